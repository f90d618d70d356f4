export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** Burns the time of one `verify`, so an unknown e-mail answers as slowly as a wrong password. */
  verifyDummy(password: string): Promise<void>;
}
