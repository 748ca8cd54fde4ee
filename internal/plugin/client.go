package plugin

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Scheme knows the client-go types and fleetscale's API.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(fleetv1.AddToScheme(Scheme))
}

// NewHubClient returns a controller-runtime client for the hub. Its REST mapping is fixed
// (MemberCluster, Secret, Namespace and the rest of the core group) instead of discovered, so
// a command makes only the requests it needs and a missing CRD shows up as a clear error on
// the first MemberCluster request rather than as a discovery failure.
func NewHubClient(cfg *rest.Config) (client.Client, error) {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(fleetv1.GroupVersion.WithKind("MemberCluster"), meta.RESTScopeNamespace)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Secret"), meta.RESTScopeNamespace)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	c, err := client.New(cfg, client.Options{Scheme: Scheme, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("hub client for %s: %w", cfg.Host, err)
	}
	return c, nil
}
