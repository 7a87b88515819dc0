// OTLP JSON values in words: AnyValue → text, span kinds and status codes → names.

import type { AnyValue, KeyValue } from '../api/types';

/**
 * The text of an OTLP AnyValue: a string as it is, an int (a string in OTLP JSON, to keep 64 bits)
 * and a double as their digits, a bool as true/false, bytes (base64 in OTLP JSON) as hex, arrays
 * as [a, b] and kvlists as {k: v}. Strings nested in arrays and kvlists are quoted, so ["a, b"]
 * and ["a", "b"] read differently.
 */
export function anyValueText(value: AnyValue | undefined): string {
  if (value === undefined) return '';
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return String(value.boolValue);
  if (value.intValue !== undefined) return String(value.intValue);
  if (value.doubleValue !== undefined) return String(value.doubleValue);
  if (value.bytesValue !== undefined) return base64ToHex(value.bytesValue);
  if (value.arrayValue !== undefined) {
    return `[${(value.arrayValue.values ?? []).map(nestedText).join(', ')}]`;
  }
  if (value.kvlistValue !== undefined) {
    const entries = value.kvlistValue.values ?? [];
    return `{${entries.map((kv) => `${kv.key}: ${nestedText(kv.value)}`).join(', ')}}`;
  }
  return '';
}

function nestedText(value: AnyValue | undefined): string {
  const text = anyValueText(value);
  return value?.stringValue !== undefined ? JSON.stringify(text) : text;
}

/** "0x0aff" from base64 "Cv8="; the base64 text itself when it is not valid base64. */
export function base64ToHex(base64: string): string {
  let binary: string;
  try {
    binary = atob(base64);
  } catch {
    return base64;
  }
  let hex = '0x';
  for (let i = 0; i < binary.length; i++) hex += binary.charCodeAt(i).toString(16).padStart(2, '0');
  return hex;
}

/** The value of attribute `key` as text, or undefined when the list does not have it. */
export function attributeText(attributes: KeyValue[] | undefined, key: string): string | undefined {
  const kv = attributes?.find((a) => a.key === key);
  return kv === undefined ? undefined : anyValueText(kv.value);
}

const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

/** OTLP's span kind number in words: 2 → "server". */
export function spanKindName(kind: number | undefined): string {
  return SPAN_KINDS[kind ?? 0] ?? `kind ${kind}`;
}

const STATUS_CODES = ['unset', 'ok', 'error'];

/** OTLP's status code in words: 2 → "error". */
export function statusCodeName(code: number | undefined): string {
  return STATUS_CODES[code ?? 0] ?? `code ${code}`;
}

/** Status code 2 is ERROR in OTLP. */
export const STATUS_ERROR = 2;
