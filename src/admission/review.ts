// The admission codec shared by the webhook and the CLI, as controller-runtime's
// pkg/webhook/admission: one decoder from an AdmissionReview to the engine's PolicyRequest
// (shape, nesting depth and metadata types checked before any rule, clone or diff runs),
// and the response helpers (denial, warnings, patch). The objects inside stay loosely
// typed, and the engine reads them through guards.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { EvaluationResult, Finding, KubeObject, Operation, PolicyRequest } from '../engine/types.js';
import { bounded, dig } from '../engine/values.js';
import { ADMISSION_REVIEW_SCHEMA, OBJECT_SCHEMA } from './review-schema.js';
import { isJudged } from './judged.js';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from '../json-text.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
/** Versions a review in a file may have; the webhook is registered for v1 only. */
export const ADMISSION_API_VERSIONS: readonly string[] = [ADMISSION_API_VERSION, 'admission.k8s.io/v1beta1'];
export const ADMISSION_KIND = 'AdmissionReview';

export type Webhook = 'validate' | 'mutate';

/** The API server drops warnings past 4096 characters in total (from all webhooks). */
export const WARNINGS_TOTAL_LIMIT = 4096;
/** And may cut a single warning past 256 characters. */
export const WARNING_LIMIT = 256;
/** A denial message stays readable and bounded even for a pathological object. */
export const DENIAL_MESSAGE_LIMIT = 32 * 1024;

export interface AdmissionRequestV1 {
  uid: string;
  kind: { group?: string; version?: string; kind: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  [key: string]: unknown;
}

export interface AdmissionReviewRequest {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  request: AdmissionRequestV1;
}

export interface AdmissionResponseV1 {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReviewResponse {
  apiVersion: string;
  kind: string;
  response: AdmissionResponseV1;
}

/** A body that is not an AdmissionReview v1 we can read; becomes HTTP 400 with `message`. */
export class AdmissionDecodeError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'AdmissionDecodeError';
  }
}

export interface DecodedReview {
  review: AdmissionReviewRequest;
  request: PolicyRequest;
  /** Set for requests on a subresource (e.g. `status`): spec does not change there. */
  subResource?: string;
}

/** Objects nested deeper than this are refused before anything walks them (Kubernetes objects need ~20). */
export const MAX_NESTING_DEPTH = 100;

// Compiled once per process: the schema is a constant.
let compiled: ValidateFunction | undefined;

/** The compiled schema; compiled on first use (createWebhook calls this so no request pays for it). */
export function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: false, strict: false }).compile(ADMISSION_REVIEW_SCHEMA);
  return compiled;
}

let compiledObject: ValidateFunction | undefined;

/**
 * What makes an object read from a file unfit to judge (the checks the decoder makes of a
 * review's object), or undefined. The CLI reports it as bad input, with file and line.
 */
export function objectProblem(obj: unknown): string | undefined {
  if (exceedsDepth(obj, MAX_NESTING_DEPTH))
    return `nested more than ${MAX_NESTING_DEPTH} levels deep; no Kubernetes object is`;
  compiledObject ??= new Ajv({ allErrors: false, strict: false }).compile(OBJECT_SCHEMA);
  if (compiledObject(obj)) return undefined;
  const first = compiledObject.errors?.[0];
  return first ? explain(first, obj) : 'malformed';
}

/**
 * Bodies above this size have their nesting checked on the text, before JSON.parse: a
 * megabyte of `[[[[` parses into a million nested arrays (hundreds of milliseconds that
 * stall every other request) only to be refused. Smaller bodies parse in well under a
 * millisecond whatever their shape, and skip the scan.
 */
export const TEXT_DEPTH_SCAN_FROM = 64 * 1024;

/** Bytes of a string read one by one before the scanner turns to a native search for its end. */
const SHORT_STRING = 64;

/**
 * Counts the nesting of JSON text fed to it in pieces (a request body as it arrives), and
 * says at the first level past `limit`. The webhook feeds it each chunk as it comes off the
 * socket, so the scan is spread over the body's arrival instead of one block after it, and a
 * body nested too deep is refused before the rest of it is read. Brackets inside strings do
 * not count; UTF-8 continuation bytes are never ASCII, so reading bytes is exact, and an
 * escape split across two pieces is carried over. Malformed text is left to JSON.parse.
 */
export class NestingScanner {
  private depth = 0;
  private inString = false;
  /** The previous piece ended on a backslash inside a string: this one starts escaped. */
  private escaped = false;
  /** In the piece being read: the next backslash from the last search (-1: none), and how far that search saw. */
  private nextBackslash = -1;
  private backslashSearchedTo = 0;

  constructor(private readonly limit: number = MAX_NESTING_DEPTH) {}

  /** Reads one more piece; true once the text has gone past the limit. */
  feed(piece: Uint8Array): boolean {
    const n = piece.length;
    if (n === 0) return false;
    this.nextBackslash = -1;
    this.backslashSearchedTo = 0;
    let { depth, inString } = this;
    let i = 0;
    if (this.escaped) {
      i = 1;
      this.escaped = false;
    }
    while (i < n) {
      if (inString) {
        const end = this.stringEnd(piece, i);
        if (end < 0) break;
        inString = false;
        i = end + 1;
        continue;
      }
      const byte = piece[i++];
      if (byte === QUOTE) inString = true;
      else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
        if (++depth > this.limit) {
          this.depth = depth;
          return true;
        }
      } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) depth--;
    }
    this.depth = depth;
    this.inString = inString;
    return false;
  }

  /**
   * Where the string running at `from` closes, or -1 if it runs past this piece. Its first
   * SHORT_STRING bytes are read one by one: nearly every string is a key or a name, and a
   * native search costs more to call than to run on a few bytes. Past them the end is found
   * with indexOf, so a megabyte string costs next to nothing; no search goes back over bytes
   * another has passed, so this stays linear in the piece however many strings and backslashes.
   */
  private stringEnd(piece: Uint8Array, from: number): number {
    const n = piece.length;
    const shortEnd = Math.min(n, from + SHORT_STRING);
    let at = from;
    while (at < shortEnd) {
      const byte = piece[at];
      if (byte === QUOTE) return at;
      if (byte !== BACKSLASH) at++;
      else if (at + 2 > n) {
        this.escaped = true;
        return -1;
      } else at += 2;
    }
    if (at >= n) return -1;
    let quote = piece.indexOf(QUOTE, at);
    let backslash = this.backslashFrom(piece, at);
    while (backslash >= 0 && (quote < 0 || backslash < quote)) {
      const afterEscape = backslash + 2;
      if (afterEscape > piece.length) this.escaped = true;
      if (quote === backslash + 1) quote = piece.indexOf(QUOTE, afterEscape);
      backslash = this.backslashFrom(piece, afterEscape);
    }
    return quote;
  }

  /**
   * The first backslash at or after `from` in this piece, or -1. The answer of the last
   * search is kept, since `from` only moves forward in a piece: a piece without a backslash
   * is searched once, not once per string in it, which made the scan quadratic in the
   * piece's length (10 ms of a 3.6 MB body of 90,000 short strings).
   */
  private backslashFrom(piece: Uint8Array, from: number): number {
    if (from < this.backslashSearchedTo) return this.nextBackslash;
    this.nextBackslash = piece.indexOf(BACKSLASH, from);
    this.backslashSearchedTo = this.nextBackslash < 0 ? piece.length : this.nextBackslash + 1;
    return this.nextBackslash;
  }
}

/** Whether JSON text nests arrays and objects deeper than `limit` (a NestingScanner over all of it). */
export function textExceedsDepth(text: Uint8Array, limit: number): boolean {
  return new NestingScanner(limit).feed(text);
}

/**
 * Whether a parsed JSON value nests deeper than `limit`. Recursion stops at the limit, so
 * the stack never holds more than `limit` frames; nothing is allocated on the way.
 */
function exceedsDepth(value: unknown, limit: number): boolean {
  return typeof value === 'object' && value !== null && deeper(value, 1, limit);
}

function deeper(v: object, depth: number, limit: number): boolean {
  if (depth > limit) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const child: unknown = v[i];
      if (typeof child === 'object' && child !== null && deeper(child, depth + 1, limit)) return true;
    }
    return false;
  }
  const o = v as Record<string, unknown>;
  for (const key in o) {
    const child = o[key];
    if (typeof child === 'object' && child !== null && deeper(child, depth + 1, limit)) return true;
  }
  return false;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function explain(error: ErrorObject, doc: unknown): string {
  const field = bounded(error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : '');
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return `${field ? `${field}.` : ''}${missing} is missing`;
    }
    case 'const': {
      const actual = dig(doc, ...field.split('.'));
      return (
        `${field} must be ${describe((error.params as { allowedValue: unknown }).allowedValue)}, got ` +
        `${describe(actual)}`
      );
    }
    case 'enum':
      return `${field} must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'minLength':
      return `${field} must not be empty`;
    default:
      return `${field || 'the body'} ${error.message ?? 'is malformed'}`;
  }
}

export interface DecodeOptions {
  /** admission.k8s.io versions accepted; the webhook takes v1 only, files may hold v1beta1 too. */
  apiVersions?: readonly string[];
  /**
   * The caller fed all the bytes to a NestingScanner as they arrived: no need to count the
   * nesting again, on the text or on the parsed value. Only when it did (not for bodies it
   * judged too small to scan): the parsed value is walked otherwise.
   */
  textNestingChecked?: boolean;
}

export function tooDeep(): string {
  return `the review is nested more than ${MAX_NESTING_DEPTH} levels deep; no Kubernetes object is`;
}

/** Parses and checks an AdmissionReview body: raw bytes, a string, or an already parsed value. */
export function decodeAdmissionReview(body: unknown, options: DecodeOptions = {}): DecodedReview {
  const apiVersions = options.apiVersions ?? [ADMISSION_API_VERSION];
  let doc: unknown = body;
  // Nesting counted on the text bounds the parsed value's (never less: a duplicate key drops a value, never adds one).
  let nestingChecked = false;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
    if (text.trim() === '')
      throw new AdmissionDecodeError('empty body: expected an AdmissionReview admission.k8s.io/v1');
    nestingChecked = options.textNestingChecked === true;
    if (text.length > TEXT_DEPTH_SCAN_FROM && !nestingChecked) {
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(text);
      if (textExceedsDepth(bytes, MAX_NESTING_DEPTH)) throw new AdmissionDecodeError(tooDeep());
      nestingChecked = true;
    }
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new AdmissionDecodeError(`body is not JSON: ${(err as Error).message}`);
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new AdmissionDecodeError('body is not a JSON object: expected an AdmissionReview admission.k8s.io/v1');
  }
  // Before anything else walks it: a deeply nested object would exhaust the stack of every
  // recursive step after this (the schema check, a clone, a diff).
  if (!nestingChecked && exceedsDepth(doc, MAX_NESTING_DEPTH)) throw new AdmissionDecodeError(tooDeep());
  // The envelope first, so that e.g. a v1beta1 review is told so rather than "field missing".
  const envelope = doc as Record<string, unknown>;
  if (
    typeof envelope.apiVersion !== 'string' ||
    !apiVersions.includes(envelope.apiVersion) ||
    envelope.kind !== ADMISSION_KIND
  ) {
    throw new AdmissionDecodeError(
      `expected apiVersion ${ADMISSION_API_VERSION} and kind ${ADMISSION_KIND}, got apiVersion ` +
        `${describe(envelope.apiVersion)} and kind ${describe(envelope.kind)}`,
    );
  }
  if (envelope.request === undefined || envelope.request === null) {
    throw new AdmissionDecodeError('the AdmissionReview has no request');
  }
  const validate = validator();
  if (!validate(doc)) {
    const first = validate.errors?.[0];
    throw new AdmissionDecodeError(
      `not an AdmissionReview admission.k8s.io/v1 request: ${first ? explain(first, doc) : 'malformed'}`,
    );
  }
  const review = doc as AdmissionReviewRequest;
  const r = review.request;
  const request: PolicyRequest = {
    uid: r.uid,
    operation: r.operation,
    kind: r.kind.kind,
    group: r.kind.group ?? '',
    ...(r.namespace ? { namespace: r.namespace } : {}),
    ...(r.name ? { name: r.name } : {}),
    ...(r.object ? { object: r.object } : {}),
    ...(r.oldObject ? { oldObject: r.oldObject } : {}),
    ...(r.userInfo ? { userInfo: r.userInfo } : {}),
    dryRun: r.dryRun === true,
  };
  const subResource = r.subResource || undefined;
  // A judged request without its object cannot be judged, and allowing it would fail open.
  if (isJudged(request, subResource) && !request.object) {
    throw new AdmissionDecodeError(
      `request.object is missing: a ${request.operation} of ${request.kind} carries the object`,
    );
  }
  return { review, request, ...(subResource ? { subResource } : {}) };
}

// Warning text becomes an HTTP Warning header: one printable line.
function oneLine(text: string): string {
  // Control characters are exactly what must go: a header value cannot carry them.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** Cuts text to at most `limit` UTF-8 bytes, marking the cut. */
export function truncateBytes(text: string, limit: number): string {
  if (Buffer.byteLength(text) <= limit) return text;
  const marker = '...';
  const room = limit - marker.length;
  // UTF-8 sizes from the UTF-16 code units, as Buffer.byteLength counts them (a lone surrogate
  // is 3 bytes, a pair 4), so the cut falls between code points without a call per character:
  // nearly every warning is cut here.
  let size = 0;
  let end = 0;
  while (end < text.length) {
    const code = text.charCodeAt(end);
    const pair = code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(end + 1));
    const n = code < 0x80 ? 1 : code < 0x800 ? 2 : pair ? 4 : 3;
    if (size + n > room) break;
    size += n;
    end += pair ? 2 : 1;
  }
  return text.slice(0, end) + marker;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

const MORE_LINE_ROOM = 100;

/**
 * `[rule-id] message`, each within WARNING_LIMIT, all together within WARNINGS_TOTAL_LIMIT;
 * what does not fit is counted in a last line rather than silently dropped.
 */
export function formatWarnings(findings: readonly Finding[], totalLimit = WARNINGS_TOTAL_LIMIT): string[] {
  const texts = [
    ...new Set(
      findings.map((f) =>
        truncateBytes(oneLine(`[${f.rule}] ${f.message.slice(0, WARNING_LIMIT * 2)}`), WARNING_LIMIT),
      ),
    ),
  ];
  const out: string[] = [];
  let used = 0;
  for (let i = 0; i < texts.length; i++) {
    const size = Buffer.byteLength(texts[i]);
    const rest = texts.length - i - 1;
    // Keep room for the "N more" line unless this is the last warning.
    const reserve = rest > 0 ? MORE_LINE_ROOM : 0;
    if (used + size + reserve > totalLimit) {
      out.push(`[nicguard] ${texts.length - i} more warning(s) not shown; run "nicguard validate" for all of them`);
      break;
    }
    out.push(texts[i]);
    used += size;
  }
  return out;
}

function denialLine(f: Finding): string {
  const where = f.field && !f.message.includes(f.field) ? ` (${f.field})` : '';
  return `[${f.rule}] ${f.message}${where}`;
}

/** Every denial, each naming its rule, prefixed by the object they are about; joined only up to the limit. */
export function formatDenial(findings: readonly Finding[]): string {
  const denials = findings.filter((f) => f.action === 'deny');
  const objects = new Set(denials.map((f) => f.object));
  let message = objects.size === 1 ? `${denials[0].object}: ` : '';
  for (let i = 0; i < denials.length; i++) {
    message += (i ? '; ' : '') + denialLine(denials[i]);
    if (Buffer.byteLength(message) > DENIAL_MESSAGE_LIMIT) {
      return truncateBytes(message, DENIAL_MESSAGE_LIMIT - 80) + ` (${denials.length} denials in total)`;
    }
  }
  return message;
}

/** The response for one review: uid echoed, apiVersion/kind kept, patch only from /mutate. */
export function encodeAdmissionResponse(
  review: AdmissionReviewRequest,
  result: EvaluationResult,
  webhook: Webhook,
): AdmissionReviewResponse {
  const response: AdmissionResponseV1 = { uid: review.request.uid, allowed: result.allowed };
  if (!result.allowed) {
    response.status = { code: 403, reason: 'Forbidden', message: formatDenial(result.findings) };
  }
  const warnings = result.findings.filter((f) => f.action === 'warn');
  if (warnings.length) response.warnings = formatWarnings(warnings);
  if (webhook === 'mutate' && result.allowed && result.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
  }
  return { apiVersion: review.apiVersion, kind: review.kind, response };
}

/** The answer for requests nicguard does not judge (other kinds, DELETE, subresources). */
export function allowUntouched(review: AdmissionReviewRequest): AdmissionReviewResponse {
  return { apiVersion: review.apiVersion, kind: review.kind, response: { uid: review.request.uid, allowed: true } };
}
