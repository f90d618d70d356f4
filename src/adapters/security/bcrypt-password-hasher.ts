import bcrypt from 'bcrypt';
import type { PasswordHasher } from '../../ports/password-hasher.js';

export class BcryptPasswordHasher implements PasswordHasher {
  private dummyHash: string;

  constructor(private readonly cost: number) {
    // Hashed once at start, at the configured cost, so a dummy check costs what a check of a fresh hash does.
    this.dummyHash = bcrypt.hashSync('keyshop-timing-equaliser', cost);
  }

  /**
   * Makes the dummy check cost what checking the stored hashes costs: after `BCRYPT_COST` changed, most stored
   * hashes keep their old cost until their owners sign in again, and a dummy at the new cost would tell an
   * unknown e-mail from a wrong password by time alone.
   */
  async matchStoredCost(cost: number | null): Promise<void> {
    if (cost === null || cost === bcrypt.getRounds(this.dummyHash)) return;
    this.dummyHash = await bcrypt.hash('keyshop-timing-equaliser', cost);
  }

  /** The cost a dummy check runs at. */
  get dummyCost(): number {
    return bcrypt.getRounds(this.dummyHash);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.cost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  async verifyDummy(password: string): Promise<void> {
    await bcrypt.compare(password, this.dummyHash);
  }

  needsRehash(hash: string): boolean {
    try {
      return bcrypt.getRounds(hash) < this.cost;
    } catch {
      return true;
    }
  }
}
