// AdmissionReview admission.k8s.io/v1 <-> the engine's PolicyRequest / EvaluationResult.
// Shape checks use schemas/admission-review.schema.json; the objects inside stay untrusted
// and loosely typed, as the engine expects.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import type { EvaluationResult, Finding, KubeObject, Operation, PolicyRequest } from '../engine/types.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
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

const schemaPath = fileURLToPath(new URL('../../../schemas/admission-review.schema.json', import.meta.url));
let compiled: ReturnType<Ajv['compile']> | undefined;

/** The compiled schema; compiled on first use (createApp calls this so no request pays for it). */
export function validator(): ReturnType<Ajv['compile']> {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
    compiled = new Ajv({ allErrors: false, strict: false }).compile(schema);
  }
  return compiled;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function explain(error: ErrorObject, doc: unknown): string {
  const field = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : '';
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return `${field ? `${field}.` : ''}${missing} is missing`;
    }
    case 'const': {
      const actual = field.split('.').reduce<any>((v, k) => (v && typeof v === 'object' ? v[k] : undefined), doc);
      return `${field} must be ${describe((error.params as { allowedValue: unknown }).allowedValue)}, got ${describe(actual)}`;
    }
    case 'enum':
      return `${field} must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'minLength':
      return `${field} must not be empty`;
    default:
      return `${field || 'the body'} ${error.message ?? 'is malformed'}`;
  }
}

/** Parses and checks an AdmissionReview body: raw bytes, a string, or an already parsed value. */
export function decodeAdmissionReview(body: unknown): DecodedReview {
  let doc: unknown = body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
    if (text.trim() === '') throw new AdmissionDecodeError('empty body: expected an AdmissionReview admission.k8s.io/v1');
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new AdmissionDecodeError(`body is not JSON: ${(err as Error).message}`);
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new AdmissionDecodeError('body is not a JSON object: expected an AdmissionReview admission.k8s.io/v1');
  }
  // The envelope first, so that e.g. a v1beta1 review is told so rather than "field missing".
  const envelope = doc as Record<string, unknown>;
  if (envelope.apiVersion !== ADMISSION_API_VERSION || envelope.kind !== ADMISSION_KIND) {
    throw new AdmissionDecodeError(
      `expected apiVersion ${ADMISSION_API_VERSION} and kind ${ADMISSION_KIND}, got apiVersion ${describe(envelope.apiVersion)} and kind ${describe(envelope.kind)}`,
    );
  }
  if (envelope.request === undefined || envelope.request === null) {
    throw new AdmissionDecodeError('the AdmissionReview has no request');
  }
  const validate = validator();
  if (!validate(doc)) {
    const first = validate.errors?.[0];
    throw new AdmissionDecodeError(`not an AdmissionReview admission.k8s.io/v1 request: ${first ? explain(first, doc) : 'malformed'}`);
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
  return { review, request, ...(r.subResource ? { subResource: r.subResource } : {}) };
}

// Warning text becomes an HTTP Warning header: one printable line.
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** Cuts text to at most `limit` UTF-8 bytes, marking the cut. */
export function truncateBytes(text: string, limit: number): string {
  if (Buffer.byteLength(text) <= limit) return text;
  const marker = '...';
  let out = '';
  let size = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (size + n > limit - marker.length) break;
    out += ch;
    size += n;
  }
  return out + marker;
}

const MORE_LINE_ROOM = 100;

/**
 * `[rule-id] message`, each within WARNING_LIMIT, all together within WARNINGS_TOTAL_LIMIT;
 * what does not fit is counted in a last line rather than silently dropped.
 */
export function formatWarnings(findings: readonly Finding[], totalLimit = WARNINGS_TOTAL_LIMIT): string[] {
  const texts = [...new Set(findings.map((f) => truncateBytes(oneLine(`[${f.rule}] ${f.message}`), WARNING_LIMIT)))];
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

/** Every denial, each naming its rule, prefixed by the object they are about. */
export function formatDenial(findings: readonly Finding[]): string {
  const denials = findings.filter((f) => f.action === 'deny');
  const objects = [...new Set(denials.map((f) => f.object))];
  const prefix = objects.length === 1 ? `${objects[0]}: ` : '';
  const lines = denials.map(denialLine);
  let message = prefix + lines.join('; ');
  if (Buffer.byteLength(message) > DENIAL_MESSAGE_LIMIT) {
    message = truncateBytes(message, DENIAL_MESSAGE_LIMIT - 80) + ` (${denials.length} denials in total)`;
  }
  return message;
}

/** The response for one review: uid echoed, apiVersion/kind kept, patch only from /mutate. */
export function encodeAdmissionResponse(review: AdmissionReviewRequest, result: EvaluationResult, webhook: Webhook): AdmissionReviewResponse {
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
