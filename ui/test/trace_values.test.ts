import { describe, expect, it } from 'vitest';
import { fnv1a, serviceColor, serviceColors } from '../src/trace/colors';
import { isTraceId, traceHref, viewOf } from '../src/trace/url';
import {
  anyValueText,
  attributeText,
  base64ToHex,
  spanKindName,
  statusCodeName,
} from '../src/trace/values';

describe('OTLP values in words', () => {
  it('renders every AnyValue kind', () => {
    expect(anyValueText({ stringValue: 'GET /cart' })).toBe('GET /cart');
    expect(anyValueText({ intValue: '9007199254740993' })).toBe('9007199254740993');
    expect(anyValueText({ intValue: 42 })).toBe('42');
    expect(anyValueText({ doubleValue: 0.25 })).toBe('0.25');
    expect(anyValueText({ boolValue: false })).toBe('false');
    expect(anyValueText({ bytesValue: 'Cv8=' })).toBe('0x0aff');
    expect(anyValueText({})).toBe('');
    expect(anyValueText(undefined)).toBe('');
  });

  it('renders arrays and kvlists, quoting nested strings', () => {
    const array = { arrayValue: { values: [{ stringValue: 'a, b' }, { intValue: '1' }] } };
    expect(anyValueText(array)).toBe('["a, b", 1]');
    const kvlist = {
      kvlistValue: {
        values: [
          { key: 'k', value: { stringValue: 'v' } },
          { key: 'nested', value: { arrayValue: { values: [{ boolValue: true }] } } },
        ],
      },
    };
    expect(anyValueText(kvlist)).toBe('{k: "v", nested: [true]}');
    expect(anyValueText({ arrayValue: {} })).toBe('[]');
  });

  it('shows bytes that are not base64 as they came', () => {
    expect(base64ToHex('not base64!')).toBe('not base64!');
    expect(base64ToHex('')).toBe('0x');
  });

  it('finds an attribute by key', () => {
    const attrs = [{ key: 'service.name', value: { stringValue: 'cart' } }];
    expect(attributeText(attrs, 'service.name')).toBe('cart');
    expect(attributeText(attrs, 'host.name')).toBeUndefined();
  });

  it('names span kinds and status codes', () => {
    expect([0, 1, 2, 3, 4, 5, undefined, 9].map(spanKindName)).toEqual([
      'unspecified',
      'internal',
      'server',
      'client',
      'producer',
      'consumer',
      'unspecified',
      'kind 9',
    ]);
    expect([0, 1, 2, undefined, 7].map(statusCodeName)).toEqual([
      'unset',
      'ok',
      'error',
      'unset',
      'code 7',
    ]);
  });
});

describe('service colours', () => {
  it('hashes names with 32-bit FNV-1a', () => {
    expect([fnv1a(''), fnv1a('a'), fnv1a('foobar')]).toEqual([0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
  });

  it('gives a service the same colour every time, from the palette', () => {
    expect(serviceColor('inventory')).toBe(serviceColor('inventory'));
    // The palette index is the hash modulo 14: 0x811c9dc5 → 9, 0xe40c292c → 12.
    expect(serviceColor('')).toBe('#c2dd6a');
    expect(serviceColor('a')).toBe('#a7c4a0');
  });

  it('moves a service whose colour an earlier one of the trace has to the next free colour', () => {
    // frontend and inventory both hash to slot 9; checkout to 5, payment to 13.
    expect([...serviceColors(['inventory', 'payment', 'frontend', 'checkout'])]).toEqual([
      ['checkout', '#6fcbc3'],
      ['frontend', '#c2dd6a'],
      ['inventory', '#f7c3a0'],
      ['payment', '#b9bcc4'],
    ]);
  });

  it('lets services beyond the palette keep their own colours', () => {
    const names = Array.from({ length: 15 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
    const colors = serviceColors(names);
    expect(new Set(names.slice(0, 14).map((n) => colors.get(n))).size).toBe(14);
    expect(colors.get('svc-14')).toBe(serviceColor('svc-14'));
  });
});

describe('trace page URL', () => {
  it('accepts 1 to 32 hex digits as a trace ID', () => {
    expect(['a', 'ABCdef0123', '0af7651916cd43dd8448eb211c80319c'].map(isTraceId)).toEqual([
      true,
      true,
      true,
    ]);
    expect(
      ['', 'xyz', '0af7651916cd43dd8448eb211c80319c0', 'ab cd', 'ab-cd'].map(isTraceId),
    ).toEqual([false, false, false, false, false]);
  });

  it('reads the view, waterfall by default', () => {
    const view = (q: string) => viewOf(new URLSearchParams(q));
    expect([view(''), view('view=flame'), view('view=json'), view('view=nonsense')]).toEqual([
      'waterfall',
      'flame',
      'json',
      'waterfall',
    ]);
  });

  it('sets and clears the view and the span, keeping other parameters', () => {
    const params = new URLSearchParams('span=aa&uiEmbed=v0');
    expect(traceHref('abc', params, { view: 'flame' })).toBe(
      'trace/abc?span=aa&uiEmbed=v0&view=flame',
    );
    expect(traceHref('abc', params, { span: undefined })).toBe('trace/abc?uiEmbed=v0');
    expect(traceHref('abc', new URLSearchParams('view=json'), { view: 'waterfall' })).toBe(
      'trace/abc',
    );
    expect(traceHref('abc', new URLSearchParams(), { span: 'bb' })).toBe('trace/abc?span=bb');
  });
});
