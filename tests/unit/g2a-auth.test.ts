import { describe, expect, it } from 'vitest';
import { g2aApiKey, g2aAuthorizationHeader } from '../../src/adapters/g2a/g2a-auth.js';

describe('g2aAuthorizationHeader', () => {
  it('matches the official test vector', () => {
    expect(g2aApiKey('games-games-games', 'test123@integration-api.g2a', 'quite-nice-secret')).toBe(
      '5feaefae655d6d2dcfb27f22e700495aa90e255fc0ad93bc22dfc0ed770fae21',
    );
  });

  it('joins the hash and the key with a comma and one space', () => {
    expect(
      g2aAuthorizationHeader('games-games-games', 'test123@integration-api.g2a', 'quite-nice-secret'),
    ).toBe('games-games-games, 5feaefae655d6d2dcfb27f22e700495aa90e255fc0ad93bc22dfc0ed770fae21');
  });

  it('changes with every input', () => {
    const base = g2aApiKey('hash', 'a@b.c', 'secret');
    expect(g2aApiKey('hash2', 'a@b.c', 'secret')).not.toBe(base);
    expect(g2aApiKey('hash', 'a@b.d', 'secret')).not.toBe(base);
    expect(g2aApiKey('hash', 'a@b.c', 'secret2')).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });
});
