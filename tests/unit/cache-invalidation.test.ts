import { describe, expect, it } from 'vitest';
import { mergeInvalidations } from '../../src/domain/cache-invalidation.js';

describe('mergeInvalidations', () => {
  it('names every key and family once, in the order first seen', () => {
    expect(
      mergeInvalidations([
        { keys: ['game:1', 'user:a:cart'] },
        { keys: ['game:1'], families: ['catalog'] },
        { families: ['home', 'catalog'] },
        {},
      ]),
    ).toEqual({ keys: ['game:1', 'user:a:cart'], families: ['catalog', 'home'] });
  });

  it('merges nothing into an empty invalidation', () => {
    expect(mergeInvalidations([])).toEqual({ keys: [], families: [] });
  });
});
