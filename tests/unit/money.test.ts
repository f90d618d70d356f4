import { describe, expect, it } from 'vitest';
import { centsToEuros, eurosToCents, markupBasisPoints, retailPriceCents } from '../../src/domain/money.js';

describe('retail price = cost × (1 + markup), half up, integers only', () => {
  it.each([
    [1000, 1020],
    [999, 1019],
    [1, 1],
    [0, 0],
    [25, 26], // 25.5 rounds up
    [75, 77], // 76.5 rounds up
    [50, 51],
    [12_345_678, 12_592_592], // 12,592,591.56
  ])('cost %i → %i at 2 %%', (cost, price) => {
    expect(retailPriceCents(cost, 2)).toBe(price);
  });

  it('follows the configured markup, decimals included', () => {
    expect(retailPriceCents(1000, 0)).toBe(1000);
    expect(retailPriceCents(1000, 2.5)).toBe(1025);
    expect(retailPriceCents(999, 10)).toBe(1099); // 1098.9
    expect(retailPriceCents(1, 50)).toBe(2); // 1.5 rounds up
  });

  it('refuses fractional or negative costs and over-precise markups', () => {
    expect(() => retailPriceCents(10.5, 2)).toThrow();
    expect(() => retailPriceCents(-1, 2)).toThrow();
    expect(() => markupBasisPoints(1.234)).toThrow();
    expect(() => markupBasisPoints(-1)).toThrow();
  });
});

describe('G2A euros to cents', () => {
  it.each([
    [25.25, 2525],
    [9.99, 999],
    [10, 1000],
    [0.01, 1],
    [1.005, 101], // 1.00499999… in binary: rounded on its decimal text
    [2.675, 268],
    [0.125, 13],
    [0.124, 12],
    [1e-7, 0],
    [123456.785, 12345679],
  ])('%d € → %i cents', (euros, cents) => {
    expect(eurosToCents(euros)).toBe(cents);
  });

  it('refuses negative and non-finite amounts', () => {
    expect(() => eurosToCents(-0.01)).toThrow();
    expect(() => eurosToCents(Number.NaN)).toThrow();
    expect(() => eurosToCents(Number.POSITIVE_INFINITY)).toThrow();
  });

  it('turns cents back into euros for max_price', () => {
    expect(centsToEuros(1019)).toBe(10.19);
    expect(centsToEuros(1)).toBe(0.01);
  });
});
