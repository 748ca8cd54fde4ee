// Package scalers evaluates KEDA triggers inside the hub.
//
// A Scaler is built once per trigger from its KEDA metadata (New) and then read at every
// evaluation (GetMetricsAndActivity). Building checks the metadata and fails with an error
// that wraps ErrInvalidMetadata or ErrUnsupportedTrigger: both mean the spec must change, so
// the caller reports them instead of retrying. Reading fails on what the world holds (an object
// or a key is missing, a value is not a number); those errors are transient and retried.
//
// The built-in trigger types reproduce KEDA's scalers of the same name (kedacore/keda
// pkg/scalers): the same metadata keys, defaults, parsing and the same value, so a trigger moved
// from a ScaledObject into a DistributedScaledObject yields the same metric. What differs is
// wording: errors here are sentences that name the object and key to fix.
//
// Scalers that read hub objects (kubernetes-resource) read them through the controller's
// cache-backed reader, so a read costs no API call; Reference tells the controller which object
// a trigger reads, so a change to that object can trigger an evaluation at once.
package scalers
