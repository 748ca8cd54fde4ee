package demo

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// clients read the hub and the members to check the expected states. They only read: every
// change is made by a command line.
type clients struct {
	hub     client.Client
	hubCS   kubernetes.Interface
	members []kubernetes.Interface // member i is members[i-1]
}

func newClients(hubKubeconfig string, memberKubeconfigs []string) (*clients, error) {
	load := func(path string) (*rest.Config, error) {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		// A stopped member must answer "unreachable" quickly, not after client-go's retries.
		cfg.Timeout = 5 * time.Second
		cfg.QPS, cfg.Burst = 50, 100
		return cfg, nil
	}
	hubCfg, err := load(hubKubeconfig)
	if err != nil {
		return nil, err
	}
	c := &clients{}
	if c.hub, err = client.New(hubCfg, client.Options{Scheme: plugin.Scheme}); err != nil {
		return nil, err
	}
	if c.hubCS, err = kubernetes.NewForConfig(hubCfg); err != nil {
		return nil, err
	}
	for _, p := range memberKubeconfigs {
		cfg, err := load(p)
		if err != nil {
			return nil, err
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		c.members = append(c.members, cs)
	}
	return c, nil
}

// Observation is one look at the hub and members, read lazily and at most once per thing:
// an expectation reads only what it checks.
type Observation struct {
	ctx     context.Context
	c       *clients
	ns      string
	elapsed time.Duration
	memo    map[string]memoEntry
}

type memoEntry struct {
	v   any
	err error
}

func newObservation(ctx context.Context, c *clients, ns string, elapsed time.Duration) *Observation {
	return &Observation{ctx: ctx, c: c, ns: ns, elapsed: elapsed, memo: map[string]memoEntry{}}
}

// Elapsed is how long the current wait has been going on.
func (o *Observation) Elapsed() time.Duration { return o.elapsed }

func memo[T any](o *Observation, key string, read func() (T, error)) (T, error) {
	if e, ok := o.memo[key]; ok {
		return e.v.(T), e.err
	}
	v, err := read()
	o.memo[key] = memoEntry{v, err}
	return v, err
}

// DSO returns the DistributedScaledObject nginx.
func (o *Observation) DSO() (*v1alpha1.DistributedScaledObject, error) {
	return memo(o, "dso", func() (*v1alpha1.DistributedScaledObject, error) {
		var d v1alpha1.DistributedScaledObject
		if err := o.c.hub.Get(o.ctx, client.ObjectKey{Namespace: o.ns, Name: DSOName}, &d); err != nil {
			return nil, fmt.Errorf("hub: DistributedScaledObject %s: %w", DSOName, err)
		}
		return &d, nil
	})
}

// DSJ returns the DistributedScaledJob dsj-example.
func (o *Observation) DSJ() (*v1alpha1.DistributedScaledJob, error) {
	return memo(o, "dsj", func() (*v1alpha1.DistributedScaledJob, error) {
		var d v1alpha1.DistributedScaledJob
		if err := o.c.hub.Get(o.ctx, client.ObjectKey{Namespace: o.ns, Name: DSJName}, &d); err != nil {
			return nil, fmt.Errorf("hub: DistributedScaledJob %s: %w", DSJName, err)
		}
		return &d, nil
	})
}

// MemberClusters returns the registrations in the hub.
func (o *Observation) MemberClusters() ([]v1alpha1.MemberCluster, error) {
	return memo(o, "mcs", func() ([]v1alpha1.MemberCluster, error) {
		var list v1alpha1.MemberClusterList
		if err := o.c.hub.List(o.ctx, &list, client.InNamespace(plugin.DefaultNamespace)); err != nil {
			return nil, fmt.Errorf("hub: list memberclusters: %w", err)
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		return list.Items, nil
	})
}

// Deployment returns nginx in member i (1-based), nil when it does not exist.
func (o *Observation) Deployment(i int) (*appsv1.Deployment, error) {
	return memo(o, fmt.Sprintf("deploy-%d", i), func() (*appsv1.Deployment, error) {
		d, err := o.c.members[i-1].AppsV1().Deployments(o.ns).Get(o.ctx, NginxName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("member %d: deployment %s: %w", i, NginxName, err)
		}
		return d, nil
	})
}

// Replicas returns spec.replicas of nginx in member i, -1 when it does not exist.
func (o *Observation) Replicas(i int) (int32, error) {
	d, err := o.Deployment(i)
	if err != nil || d == nil {
		return -1, err
	}
	return ptr.Deref(d.Spec.Replicas, 1), nil
}

// Jobs returns the Jobs in the namespace of member i.
func (o *Observation) Jobs(i int) ([]batchv1.Job, error) {
	return memo(o, fmt.Sprintf("jobs-%d", i), func() ([]batchv1.Job, error) {
		list, err := o.c.members[i-1].BatchV1().Jobs(o.ns).List(o.ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("member %d: list jobs: %w", i, err)
		}
		return list.Items, nil
	})
}

// EventNotes returns the notes of the hub's events with reason about the DSO.
func (o *Observation) EventNotes(reason string) ([]string, error) {
	return memo(o, "events-"+reason, func() ([]string, error) {
		list, err := o.c.hubCS.EventsV1().Events(o.ns).List(o.ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("hub: list events: %w", err)
		}
		var notes []string
		for _, e := range list.Items {
			if e.Regarding.Name == DSOName && e.Reason == reason {
				notes = append(notes, e.Note)
			}
		}
		return notes, nil
	})
}

// jobSucceeded says whether a Job has completed successfully.
func jobSucceeded(j batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == "True" {
			return true
		}
	}
	return false
}
