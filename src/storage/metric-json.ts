// JSON for metric records that keeps NaN and ±Infinity: plain JSON.stringify turns them
// into null, and a diverged loss must read back as what it was, not as a missing value.

const NON_FINITE_KEY = '$nonFinite';

export function stringifyMetrics(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { [NON_FINITE_KEY]: String(v) } : v));
}

export function parseMetrics<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === NON_FINITE_KEY) return Number((v as Record<string, string>)[NON_FINITE_KEY]);
    }
    return v;
  }) as T;
}
