import { describe, expect, it } from 'vitest';
import { buildTraceModel } from '../src/trace/model';
import { matchSpans, searchTexts, stepMatch } from '../src/trace/search';
import { traceOf } from './trace_fixtures';

const model = buildTraceModel(
  traceOf([
    { id: 'aa01', service: 'frontend', name: 'POST /checkout', start: 0, end: 100 },
    {
      id: 'bb02',
      parent: 'aa01',
      service: 'inventory',
      name: 'reserve',
      start: 10,
      end: 90,
      attributes: { 'db.system': 'postgresql', sku: 'B-42' },
    },
    {
      id: 'cc03',
      parent: 'aa01',
      service: 'payment',
      name: 'charge',
      start: 5,
      end: 8,
      error: true,
    },
  ]),
);
const texts = searchTexts(model);
const find = (q: string) => matchSpans(model, texts, q).map((i) => model.spans[i].spanId);

describe('search within a trace', () => {
  it('matches service, name and span ID, ignoring case', () => {
    expect(find('INVENTORY')).toEqual(['bb02']);
    expect(find('checkout')).toEqual(['aa01']);
    expect(find('cc03')).toEqual(['cc03']);
  });

  it('matches the status message', () => {
    expect(find('boom')).toEqual(['cc03']);
  });

  it('matches attribute keys, values and key=value', () => {
    expect(find('db.system')).toEqual(['bb02']);
    expect(find('b-42')).toEqual(['bb02']);
    expect(find('sku=b-42')).toEqual(['bb02']);
  });

  it('needs every term to match, and lists matches in display order', () => {
    expect(find('e')).toEqual(['aa01', 'cc03', 'bb02']);
    expect(find('  reserve   postgres ')).toEqual(['bb02']);
    expect(find('reserve charge')).toEqual([]);
  });

  it('does not match across two fields', () => {
    expect(find('inventory\nreserve')).toEqual(['bb02']);
    expect(find('frontendpost')).toEqual([]);
  });

  it('matches nothing for an empty query', () => {
    expect(find('   ')).toEqual([]);
  });

  it('steps through matches, wrapping around', () => {
    expect([stepMatch(3, -1, 1), stepMatch(3, -1, -1)]).toEqual([0, 2]);
    expect([stepMatch(3, 0, 1), stepMatch(3, 2, 1), stepMatch(3, 0, -1)]).toEqual([1, 0, 2]);
    expect(stepMatch(0, -1, 1)).toBe(-1);
  });
});
