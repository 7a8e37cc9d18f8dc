/**
 * log, cos/sin and exp for the random draws, built only from operations IEEE 754 rounds exactly
 * (+, -, *, /, sqrt, comparisons, multiplications by powers of two) in a fixed order, so that the
 * JS here and the C of native/xbar_blas.c (scalar and AVX2, compiled without contraction into
 * fused multiply-adds) give the same bits on every machine. Math.log and a libm's log do not:
 * they round differently in a few results per million, and a chip would then depend on where it
 * was drawn.
 *
 * The polynomials are fdlibm's (Sun Microsystems, 1993; the same kernels as musl and V8), each
 * accurate to about 1 ulp on its reduced range. The arguments are those the generator gives:
 * uniforms (x + 0.5) / 2^32 of a 32-bit word x, so that range reduction is exact integer work.
 * Change nothing here without changing the C in step (the tests compare a million draws). The
 * constants are fdlibm's, each spelled as the shortest decimal of its double; the C spells the
 * same doubles with fdlibm's 21 digits.
 */

const LN2_HI = 0.6931471803691238; // 32 significant bits: k * LN2_HI is exact
const LN2_LO = 1.9082149292705877e-10;
const LG1 = 0.6666666666666735;
const LG2 = 0.3999999999940942;
const LG3 = 0.2857142874366239;
const LG4 = 0.22222198432149784;
const LG5 = 0.1818357216161805;
const LG6 = 0.15313837699209373;
const LG7 = 0.14798198605116586;

/** 2^k for k in [-600, 600], exactly (products of 2). */
const POW2_BIAS = 600;
const POW2 = (() => {
  const t = new Float64Array(2 * POW2_BIAS + 1);
  t[POW2_BIAS] = 1;
  for (let k = 1; k <= POW2_BIAS; k++) {
    t[POW2_BIAS + k] = t[POW2_BIAS + k - 1] * 2;
    t[POW2_BIAS - k] = t[POW2_BIAS - k + 1] * 0.5;
  }
  return t;
})();

/**
 * log((x + 0.5) / 2^32) for a 32-bit word x: a uniform in (0, 1) that is never 0, so no draw is
 * rejected. (x + 0.5) = 2^e m with m in [sqrt(1/2), sqrt(2)), e from the integer's leading zeros.
 */
export function logUnit(x: number): number {
  let e: number;
  let m: number;
  if (x === 0) {
    e = -1;
    m = 1;
  } else {
    e = 31 - Math.clz32(x);
    m = (x + 0.5) * POW2[POW2_BIAS - e];
  }
  if (m > Math.SQRT2) {
    m = m * 0.5;
    e = e + 1;
  }
  const k = e - 32;
  const f = m - 1;
  const hfsq = 0.5 * f * f;
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  return k * LN2_HI - (hfsq - (s * (hfsq + r) + k * LN2_LO) - f);
}

const S1 = -0.16666666666666632;
const S2 = 0.00833333333332249;
const S3 = -0.0001984126982985795;
const S4 = 0.0000027557313707070068;
const S5 = -2.5050760253406863e-8;
const S6 = 1.58969099521155e-10;
const C1 = 0.0416666666666666;
const C2 = -0.001388888888887411;
const C3 = 0.00002480158728947673;
const C4 = -2.7557314351390663e-7;
const C5 = 2.087572321298175e-9;
const C6 = -1.1359647557788195e-11;
/** 2 pi / 2^32: pi scaled by a power of two, so exactly Math.PI's bits. */
const TURN_UNIT = Math.PI / 2147483648;

/**
 * cos and sin of 2 pi (y + 0.5) / 2^32 for a 32-bit word y, into out[0], out[1]. The nearest
 * quarter turn j comes from the integer; the remainder (y + 0.5 - j 2^30, exact) times 2 pi / 2^32
 * lies in [-pi/4, pi/4], where fdlibm's kernels apply; j rotates the pair.
 */
export function cosSinTurn(y: number, out: Float64Array): void {
  const j = Math.floor((y + 536870912) / 1073741824); // 0..4, 4 being a full turn
  const x = (y - j * 1073741824 + 0.5) * TURN_UNIT;
  const z = x * x;
  const w = z * z;
  const rs = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
  const sin = x + z * x * (S1 + z * rs);
  const rc = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
  const hz = 0.5 * z;
  const v = 1 - hz;
  const cos = v + (1 - v - hz + z * rc);
  switch (j & 3) {
    case 0:
      out[0] = cos;
      out[1] = sin;
      break;
    case 1:
      out[0] = -sin;
      out[1] = cos;
      break;
    case 2:
      out[0] = -cos;
      out[1] = -sin;
      break;
    default:
      out[0] = sin;
      out[1] = -cos;
  }
}

const INV_LN2 = Math.LOG2E; // 1.44269504088896338700, fdlibm's invln2
const P1 = 0.16666666666666602;
const P2 = -0.0027777777777015593;
const P3 = 0.00006613756321437934;
const P4 = -0.0000016533902205465252;
const P5 = 4.1381367970572385e-8;

/**
 * exp(a): a = k ln2 + r, |r| <= ln2 / 2, fdlibm's rational approximation on r, then two exact
 * scalings by 2^(k/2) (so that 2^k itself never has to be a double). Arguments are clamped to
 * [-746, 710], beyond which the result is 0 or Infinity anyway.
 */
export function expPortable(a: number): number {
  const x = a > 710 ? 710 : a < -746 ? -746 : a;
  const k = Math.floor(x * INV_LN2 + 0.5);
  const hi = x - k * LN2_HI;
  const lo = k * LN2_LO;
  const r = hi - lo;
  const rr = r * r;
  const c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
  const y = 1 + ((r * c) / (2 - c) - lo + hi);
  const k1 = k >> 1;
  return y * POW2[POW2_BIAS + k1] * POW2[POW2_BIAS + k - k1];
}
