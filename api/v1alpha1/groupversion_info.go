// Package v1alpha1 holds the fleetscale API, group keda.kedify.io: DistributedScaledObject,
// DistributedScaledJob, MemberCluster and TenantPolicy. The DSO and DSJ are schema-compatible
// with the reference CRDs of the same group, so their manifests apply unchanged.
// +kubebuilder:object:generate=true
// +groupName=keda.kedify.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "keda.kedify.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types with a runtime.Scheme (kubebuilder's layout: every
	// types file registers its kinds in init).
	//lint:ignore SA1019 kubebuilder's registration; runtime.SchemeBuilder would change every types file
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
