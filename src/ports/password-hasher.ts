export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** Burns the time of one `verify` of a typical stored hash, so an unknown e-mail answers as slowly as a wrong password. */
  verifyDummy(password: string): Promise<void>;
  /** Whether a stored hash is weaker than what `hash` makes now (the cost was raised since): rehash it at the next sign-in. */
  needsRehash(hash: string): boolean;
}
