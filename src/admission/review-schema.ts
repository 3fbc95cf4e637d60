// The shape of an AdmissionReview request as nicguard reads it (JSON Schema draft-07),
// published as schemas/admission-review.schema.json (npm run schemas; a test keeps the
// two equal). Only the fields nicguard reads are constrained; the API server may add
// others. Metadata is typed here so that no rule meets a name that is a number.

const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } };

/** A Kubernetes object as nicguard reads it: any fields, typed metadata. */
export const OBJECT_SCHEMA = {
  type: ['object', 'null'],
  properties: {
    metadata: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        generateName: { type: 'string' },
        namespace: { type: 'string' },
        labels: STRING_MAP,
        annotations: STRING_MAP,
      },
    },
  },
};

export const ADMISSION_REVIEW_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://nicguard.dev/schemas/admission-review.schema.json',
  title: 'AdmissionReview admission.k8s.io/v1 request, as the API server sends it to a webhook',
  description:
    'Only the fields nicguard reads are constrained; the API server may add others (resource, requestKind, ' +
    'options...), which are accepted.',
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { enum: ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1 },
        kind: {
          type: 'object',
          required: ['kind'],
          properties: {
            group: { type: 'string' },
            version: { type: 'string' },
            kind: { type: 'string', minLength: 1 },
          },
        },
        subResource: { type: 'string' },
        name: { type: 'string' },
        namespace: { type: 'string' },
        operation: { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        userInfo: {
          type: 'object',
          properties: {
            username: { type: 'string' },
            uid: { type: 'string' },
            groups: { type: 'array', items: { type: 'string' } },
          },
        },
        object: OBJECT_SCHEMA,
        oldObject: OBJECT_SCHEMA,
        dryRun: { type: 'boolean' },
      },
    },
  },
} as const;
