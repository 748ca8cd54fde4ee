package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/statusview"
)

// Kinds `kubectl fleetscale status` shows; KindAny tries DSO first, then DSJ.
const (
	KindAny = ""
	KindDSO = "dso"
	KindDSJ = "dsj"
)

// ParseStatusKind accepts the names kubectl accepts for the two kinds: short name, singular,
// plural, and the kind itself, in any case.
func ParseStatusKind(s string) (string, error) {
	switch strings.ToLower(s) {
	case "dso", "distributedscaledobject", "distributedscaledobjects", "distributedscaledobjects.keda.kedify.io":
		return KindDSO, nil
	case "dsj", "distributedscaledjob", "distributedscaledjobs", "distributedscaledjobs.keda.kedify.io":
		return KindDSJ, nil
	}
	return "", fmt.Errorf("unknown kind %q: use dso (DistributedScaledObject) or dsj (DistributedScaledJob)", s)
}

// HubNamespace is the namespace of the hub kubeconfig's context (as kubectl uses it when -n
// is not given), else "default".
func HubNamespace(f HubFlags) string {
	home, _ := os.UserHomeDir()
	src := ResolveHubKubeconfig(f.KedaKubeconfig, f.Kubeconfig, os.Getenv(clientcmd.RecommendedConfigPathEnvVar), home)
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: src.Explicit, Precedence: src.Precedence}
	kctx := f.KedaContext
	if kctx == "" {
		kctx = f.Context
	}
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kctx}).Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}

// NewStatusClient returns a hub client that knows the two scaled kinds (fixed REST mapping,
// as NewHubClient).
func NewStatusClient(cfg *rest.Config) (client.Client, error) {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(fleetv1.GroupVersion.WithKind("DistributedScaledObject"), meta.RESTScopeNamespace)
	mapper.Add(fleetv1.GroupVersion.WithKind("DistributedScaledJob"), meta.RESTScopeNamespace)
	c, err := client.New(cfg, client.Options{Scheme: Scheme, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("hub client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

// GetStatusView reads the object and builds its view. With KindAny it looks for a
// DistributedScaledObject first, then a DistributedScaledJob.
func GetStatusView(ctx context.Context, c client.Client, namespace, kind, name string) (statusview.View, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	if kind == KindAny || kind == KindDSO {
		var dso fleetv1.DistributedScaledObject
		err := c.Get(ctx, key, &dso)
		if err == nil {
			return statusview.FromDSO(&dso), nil
		}
		if !apierrors.IsNotFound(err) || kind == KindDSO {
			return statusview.View{}, err
		}
	}
	var dsj fleetv1.DistributedScaledJob
	if err := c.Get(ctx, key, &dsj); err != nil {
		return statusview.View{}, err
	}
	return statusview.FromDSJ(&dsj), nil
}

// StatusOptions are the inputs of Status.
type StatusOptions struct {
	Hub       *rest.Config
	Namespace string
	// Kind is KindAny, KindDSO or KindDSJ.
	Kind string
	Name string
	// Watch re-renders whenever the view changes, until ctx ends.
	Watch bool
	// Interval is how often Watch reads the object (default 1s).
	Interval time.Duration
	// Terminal redraws a watched view in place (clear screen); otherwise each change is
	// appended, after a line with the time, which reads in a log.
	Terminal bool
	// Render chooses width, colours and bar characters.
	Render statusview.Options
	Out    io.Writer
}

// Status prints the per-member view of a DSO or DSJ once, or with Watch every time it changes
// until ctx ends (then it returns nil). While watching, a failed read is shown and retried.
func Status(ctx context.Context, o StatusOptions) error {
	c, err := NewStatusClient(o.Hub)
	if err != nil {
		return err
	}
	read := func() (string, error) {
		v, err := GetStatusView(ctx, c, o.Namespace, o.Kind, o.Name)
		if err != nil {
			return "", o.describe(err)
		}
		return statusview.Render(v, o.Render), nil
	}
	if !o.Watch {
		text, err := read()
		if err != nil {
			return err
		}
		_, err = io.WriteString(o.Out, text)
		return err
	}
	interval := o.Interval
	if interval <= 0 {
		interval = time.Second
	}
	last := ""
	for {
		text, err := read()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			text = "error: " + err.Error() + "\n(retrying every " + interval.String() + ")\n"
		}
		if text != last {
			last = text
			stamp := time.Now().Format("15:04:05")
			if o.Terminal {
				fmt.Fprintf(o.Out, "\x1b[H\x1b[2J%s\nupdated %s; Ctrl-C to stop\n", text, stamp)
			} else {
				fmt.Fprintf(o.Out, "--- %s\n%s", stamp, text)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func (o StatusOptions) describe(err error) error {
	host := strings.TrimSuffix(o.Hub.Host, "/")
	kind := map[string]string{
		KindAny: "DistributedScaledObject or DistributedScaledJob",
		KindDSO: "DistributedScaledObject", KindDSJ: "DistributedScaledJob",
	}[o.Kind]
	switch {
	case isMissingAPI(err):
		return fmt.Errorf("the hub cluster at %s does not serve %s (group %s): install fleetscale's CRDs (config/crd/bases) first",
			host, kind, fleetv1.GroupVersion.Group)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("no %s %q in namespace %s of the hub at %s", kind, o.Name, o.Namespace, host)
	}
	return DescribeError("hub", o.Hub, "get "+o.Namespace+"/"+o.Name, err)
}
