import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import {
  assertAcceptablePassword,
  normalizeEmail,
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
} from '../../src/domain/user.js';

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

describe('normalizeEmail', () => {
  it('trims and lower-cases', () => {
    expect(normalizeEmail('  Alice.Smith@Example.COM \t')).toBe('alice.smith@example.com');
  });

  it.each([
    ['an empty string', ''],
    ['no @', 'alice.example.com'],
    ['no domain dot', 'alice@example'],
    ['two @', 'alice@bob@example.com'],
    ['inner whitespace', 'alice smith@example.com'],
    ['nothing before @', '@example.com'],
    ['a NUL', 'ali\u0000ce@example.com'],
    ['a control character', 'ali\u0007ce@example.com'],
    ['an inner tab', 'ali\tce@example.com'],
    ['a right-to-left override', 'alice\u202e@example.com'],
    ['a zero-width space', 'ali\u200bce@example.com'],
    ['a zero-width joiner', 'ali\u200dce@example.com'],
    ['a byte-order mark inside', 'ali\ufeffce@example.com'],
    ['a line separator', 'alice\u2028@example.com'],
    ['a private-use character', 'alice\ue000@example.com'],
  ])('rejects %s with VALIDATION_FAILED naming the field', (_case, raw) => {
    expect(() => normalizeEmail(raw)).toThrow(DomainError);
    expect(() => normalizeEmail(raw)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', details: { field: 'email' } }),
    );
  });

  it('composes to NFC: an address typed decomposed is the address typed composed', () => {
    const composed = 'jos\u00e9@example.com';
    const decomposed = 'jose\u0301@example.com';
    expect(decomposed).not.toBe(composed);
    expect(normalizeEmail(decomposed)).toBe(composed);
    expect(normalizeEmail('JOSE\u0301@EXAMPLE.COM')).toBe(composed);
  });

  it('accepts 254 characters and rejects 255', () => {
    const domain = '@example.com';
    const longest = `${'a'.repeat(254 - domain.length)}${domain}`;
    expect(normalizeEmail(longest)).toBe(longest);
    expect(() => normalizeEmail(`a${longest}`)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('measures the length after trimming', () => {
    const longest = `${'a'.repeat(242)}@example.com`;
    expect(normalizeEmail(`   ${longest}   `)).toBe(longest);
  });
});

describe('assertAcceptablePassword', () => {
  const rejects = (password: string) =>
    expect(() => assertAcceptablePassword(password)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', details: { field: 'password' } }),
    );

  it('accepts 8 to 72 ASCII characters', () => {
    expect(PASSWORD_MIN_BYTES).toBe(8);
    expect(PASSWORD_MAX_BYTES).toBe(72);
    expect(() => assertAcceptablePassword('a'.repeat(8))).not.toThrow();
    expect(() => assertAcceptablePassword('a'.repeat(72))).not.toThrow();
    rejects('a'.repeat(7));
    rejects('a'.repeat(73));
    rejects('');
  });

  it('counts UTF-8 bytes, not characters, at the upper limit', () => {
    const twoByte = 'é';
    const threeByte = '€';
    const fourByte = '🎮';
    expect([utf8Bytes(twoByte), utf8Bytes(threeByte), utf8Bytes(fourByte)]).toEqual([2, 3, 4]);

    expect(() => assertAcceptablePassword(twoByte.repeat(36))).not.toThrow();
    rejects(twoByte.repeat(37));
    expect(() => assertAcceptablePassword(threeByte.repeat(24))).not.toThrow();
    rejects(threeByte.repeat(25));
    expect(() => assertAcceptablePassword(fourByte.repeat(18))).not.toThrow();
    // `length` says 38 here, well under 72, but bcrypt would see 76 bytes.
    rejects(fourByte.repeat(19));
    rejects(`${'a'.repeat(71)}é`);
  });

  it('counts UTF-8 bytes at the lower limit too', () => {
    expect(() => assertAcceptablePassword('éééé')).not.toThrow();
    expect(() => assertAcceptablePassword('🎮🎮')).not.toThrow();
    rejects('ééé');
    rejects('🎮a');
  });
});
