// Kubernetes resource quantities ("1024M", "2Gi", "1.5G", "512Mi", "1e9"), as
// k8s.io/apimachinery/pkg/api/resource parses them, reduced to a plain number.
// Enough precision for comparing memory sizes; not for round-tripping.

const SUFFIXES: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** The value of a quantity (a number is taken as is), or undefined when it is not one. */
export function parseQuantity(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const m = QUANTITY.exec(input.trim());
  if (!m) return undefined;
  const [, number, exponent, suffix] = m;
  const value = exponent ? Number(number + exponent) : Number(number) * SUFFIXES[suffix ?? ''];
  return Number.isFinite(value) ? value : undefined;
}
