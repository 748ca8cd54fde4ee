// Package triggerauth resolves what a KEDA trigger authenticates with, in the hub: its
// authenticationRef (KEDA's TriggerAuthentication or ClusterTriggerAuthentication, read with
// KEDA's own API types) and the environment values its `…FromEnv` metadata keys name.
//
// It reproduces KEDA's scale resolver (pkg/scaling/resolver/scale_resolvers.go): the same
// sources (secretTargetRef, configMapTargetRef, env, podIdentity, oauth2,
// azureServicePrincipal) and the same parameter names, so a scaler receives the AuthParams and
// ResolvedEnv KEDA would give it. Two things differ on purpose:
//
//   - KEDA turns a missing TriggerAuthentication, Secret or key into an empty value and lets
//     the scaler fail later with a confusing message. Here each is an *Error that names the
//     object and the key, so the object's Ready condition says what to fix.
//   - Environment values come from where the workload runs. For a DistributedScaledJob that is
//     the jobTargetRef template in the hub, resolved as KEDA does (valueFrom and envFrom read
//     from the hub namespace). For a DistributedScaledObject the scale target lives in the
//     member clusters: its pod template is read from every member whose target was read, only
//     literal values count (the members' Secrets are not the hub's to read), and every member
//     must agree on each value used.
//
// Sources that need a client of an outside secret store (hashiCorpVault, azureKeyVault,
// gcpSecretManager, awsSecretManager), a file on KEDA's pod (filePath) or minting tokens
// (boundServiceAccountToken) are refused with an *Error naming the field. Nothing here logs,
// and no error carries a value read from a Secret.
package triggerauth
