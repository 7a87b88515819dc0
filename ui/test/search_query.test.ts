import { describe, expect, it } from 'vitest';
import { parseDurationNs } from '../src/format';
import {
  emptyForm,
  formFromParams,
  formToParams,
  parseTagsParam,
  rfc3339FromUs,
  summariesParams,
  tagKeySuggestions,
  timeWindowUs,
  validateForm,
  withTag,
} from '../src/search/query';

describe('deep links', () => {
  it('reads a Jaeger search URL', () => {
    const form = formFromParams(
      new URLSearchParams(
        'service=frontend&operation=GET%20%2Fcheckout&tags=%7B%22error%22%3A%22true%22%7D' +
          '&minDuration=2s&maxDuration=10s&lookback=6h&limit=50',
      ),
    );
    expect(form).toEqual({
      service: 'frontend',
      operation: 'GET /checkout',
      tags: [{ key: 'error', value: 'true' }],
      minDuration: '2s',
      maxDuration: '10s',
      lookback: '6h',
      limit: 50,
    });
  });

  it('reads start and end in microseconds as a custom range', () => {
    const form = formFromParams(new URLSearchParams('start=1700000000000000&end=1700000360000000'));
    expect(form.lookback).toBe('custom');
    expect(form.startUs).toBe(1700000000000000);
    expect(form.endUs).toBe(1700000360000000);
  });

  it('falls back to defaults for unknown values', () => {
    const form = formFromParams(new URLSearchParams('lookback=3y&limit=-4'));
    expect(form.lookback).toBe('1h');
    expect(form.limit).toBe(20);
    expect(formFromParams(new URLSearchParams('limit=99999')).limit).toBe(1500);
  });

  it('round-trips a form through its URL', () => {
    const form = {
      ...emptyForm(),
      service: 'inventory',
      operation: 'reserve',
      tags: [
        { key: 'http.status_code', value: '500' },
        { key: 'user.id', value: 'ann' },
      ],
      minDuration: '1.5s',
      lookback: 'custom',
      startUs: 1,
      endUs: 2,
      limit: 7,
    };
    expect(formFromParams(formToParams(form))).toEqual(form);
  });

  it('drops the operation without a service', () => {
    const p = formToParams({ ...emptyForm(), operation: 'orphan' });
    expect(p.has('operation')).toBe(false);
    expect(p.toString()).toBe('lookback=1h&limit=20');
  });

  it('parses tags as JSON objects or logfmt', () => {
    expect(parseTagsParam(['{"a":"1","b":2,"c":true}'])).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
      { key: 'c', value: 'true' },
    ]);
    expect(parseTagsParam(['error=true http.method=GET', 'broken'])).toEqual([
      { key: 'error', value: 'true' },
      { key: 'http.method', value: 'GET' },
    ]);
  });
});

describe('validation', () => {
  it('names what is wrong', () => {
    expect(validateForm({ ...emptyForm(), minDuration: '2x' })).toBe(
      'Min duration “2x” is not a duration: use a number and a unit, e.g. 2s, 150ms, 1.5m.',
    );
    expect(validateForm({ ...emptyForm(), minDuration: '3s', maxDuration: '1s' })).toBe(
      'Min duration is longer than max duration.',
    );
    expect(validateForm({ ...emptyForm(), lookback: 'custom', startUs: 5, endUs: 4 })).toBe(
      'The time range starts after it ends.',
    );
    expect(validateForm({ ...emptyForm(), lookback: 'custom', startUs: 5 })).toBe(
      'A custom time range needs both a start and an end.',
    );
    expect(validateForm({ ...emptyForm(), limit: 0 })).toBe(
      'Limit must be a whole number from 1 to 1500.',
    );
    expect(validateForm({ ...emptyForm(), minDuration: '1m30s', maxDuration: '0' })).toBe(
      'Min duration is longer than max duration.',
    );
    expect(validateForm({ ...emptyForm(), minDuration: '2s' })).toBeUndefined();
  });

  it('parses Go durations', () => {
    expect(parseDurationNs('2s')).toBe(2e9);
    expect(parseDurationNs('1m30s')).toBe(90e9);
    expect(parseDurationNs('1.5ms')).toBe(1.5e6);
    expect(parseDurationNs('300µs')).toBe(300e3);
    expect(parseDurationNs('0')).toBe(0);
    expect(parseDurationNs('2')).toBeUndefined();
    expect(parseDurationNs('s')).toBeUndefined();
  });
});

describe('API parameters', () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

  it('turns a preset into a window ending now', () => {
    expect(timeWindowUs({ ...emptyForm(), lookback: '15m' }, now)).toEqual({
      startUs: (now - 15 * 60_000) * 1000,
      endUs: now * 1000,
    });
  });

  it('writes RFC 3339 with microseconds', () => {
    expect(rfc3339FromUs(now * 1000 + 9)).toBe('2026-01-02T03:04:05.678009Z');
  });

  it('builds the trace-summaries query', () => {
    const p = summariesParams(
      {
        ...emptyForm(),
        service: 'frontend',
        operation: 'GET /checkout',
        tags: [{ key: 'error', value: 'true' }],
        minDuration: '2s',
        limit: 5,
      },
      now,
    );
    expect(Object.fromEntries(p)).toEqual({
      'query.service_name': 'frontend',
      'query.operation_name': 'GET /checkout',
      'query.attributes': '{"error":"true"}',
      'query.duration_min': '2s',
      'query.start_time_min': '2026-01-02T02:04:05.678000Z',
      'query.start_time_max': '2026-01-02T03:04:05.678000Z',
      'query.num_traces': '5',
    });
  });
});

describe('tag key suggestions', () => {
  it("adds the sampling decision's keys after the index's, each once", () => {
    expect(tagKeySuggestions(['error', 'http.route'])).toEqual([
      'error',
      'http.route',
      'sampling.policy',
      'sampling.rate',
    ]);
    expect(tagKeySuggestions([])).toEqual(['sampling.policy', 'sampling.rate']);
    expect(tagKeySuggestions(['sampling.rate', 'a'])).toEqual([
      'sampling.rate',
      'a',
      'sampling.policy',
    ]);
  });
});

describe('withTag', () => {
  it('adds a tag, or replaces the one with the same key', () => {
    const form = { ...emptyForm(), service: 'api', tags: [{ key: 'sampling.policy', value: 'a' }] };
    expect(withTag(form, 'sampling.policy', 'errors').tags).toEqual([
      { key: 'sampling.policy', value: 'errors' },
    ]);
    expect(withTag(form, 'http.route', '/x').tags).toEqual([
      { key: 'sampling.policy', value: 'a' },
      { key: 'http.route', value: '/x' },
    ]);
    expect(withTag(form, 'http.route', '/x').service).toBe('api');
    expect(form.tags).toHaveLength(1);
  });
});
