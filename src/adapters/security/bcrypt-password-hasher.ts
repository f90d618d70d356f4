import bcrypt from 'bcrypt';
import type { PasswordHasher } from '../../ports/password-hasher.js';

export class BcryptPasswordHasher implements PasswordHasher {
  private readonly dummyHash: string;

  constructor(private readonly cost: number) {
    // Hashed once at start, at the configured cost, so a dummy check costs exactly what a real one does.
    this.dummyHash = bcrypt.hashSync('keyshop-timing-equaliser', cost);
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
}
