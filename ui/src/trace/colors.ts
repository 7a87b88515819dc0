// Service colours. A service's colour comes from a hash of its name, so it keeps it on every
// trace and every view. Two services of one trace whose hashes pick the same colour would be
// confusing, so the one later by name takes the next free colour (only then does a colour depend
// on the trace). The palette leaves out red (errors) and dark tones (the critical path's overlay),
// and every colour is light enough for dark text.

const PALETTE = [
  '#7eb0e0', // blue
  '#f5a55a', // orange
  '#8fd18a', // green
  '#c3a3e0', // lavender
  '#f0d060', // yellow
  '#6fcbc3', // teal
  '#f2a6c9', // pink
  '#c9a57f', // tan
  '#9fa8f0', // periwinkle
  '#c2dd6a', // lime
  '#f7c3a0', // peach
  '#93d3ef', // sky
  '#a7c4a0', // sage
  '#b9bcc4', // grey
];

/** FNV-1a, 32 bits, over the UTF-16 code units of `text`. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The palette slot of a service's name. */
function slotOf(service: string): number {
  return fnv1a(service) % PALETTE.length;
}

/** The colour of a service by its name alone. */
export function serviceColor(service: string): string {
  return PALETTE[slotOf(service)];
}

/**
 * The colours of one trace's services: each its own colour, except that a service whose colour
 * an earlier service (by name) already has takes the next free one. With more services than
 * colours, the rest keep their own colours.
 */
export function serviceColors(services: string[]): Map<string, string> {
  const used = new Set<number>();
  const colors = new Map<string, string>();
  for (const service of [...services].sort()) {
    let slot = slotOf(service);
    if (used.size < PALETTE.length) {
      while (used.has(slot)) slot = (slot + 1) % PALETTE.length;
    }
    used.add(slot);
    colors.set(service, PALETTE[slot]);
  }
  return colors;
}
