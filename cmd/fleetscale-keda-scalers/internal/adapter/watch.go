package adapter

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
)

// watched are the hub objects whose triggers this adapter serves. The adapter reads them as
// unstructured objects: importing the hub's API types would pull the main module's Kubernetes
// versions into KEDA's module graph.
var watched = []struct {
	gvr      schema.GroupVersionResource
	kind     string
	specPath string
}{
	{schema.GroupVersionResource{Group: "keda.kedify.io", Version: "v1alpha1", Resource: "distributedscaledobjects"}, KindDSO, "scaledObjectSpec"},
	{schema.GroupVersionResource{Group: "keda.kedify.io", Version: "v1alpha1", Resource: "distributedscaledjobs"}, KindDSJ, "scaledJobSpec"},
}

// Watch closes cached scalers when their hub object is deleted or its triggers change, as
// KEDA's scale handler drops a ScaledObject's scalers when it changes or goes away. It
// returns once the informers have synced (or ctx ends); they stop with ctx.
func (s *Server) Watch(ctx context.Context, cfg *rest.Config, syncTimeout time.Duration) error {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("hub client: %w", err)
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(client, 0)
	var lastErr struct {
		sync.Mutex
		err error
	}
	var synced []toolscache.InformerSynced
	stores := map[string]watchedStore{}
	for _, w := range watched {
		inf := factory.ForResource(w.gvr).Informer()
		stores[w.kind] = watchedStore{store: inf.GetStore(), specPath: w.specPath}
		if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *toolscache.Reflector, err error) {
			lastErr.Lock()
			lastErr.err = err
			lastErr.Unlock()
			s.opts.Log.Info("watching the hub failed; retrying", "resource", w.gvr.Resource, "error", err.Error())
		}); err != nil {
			return err
		}
		kind, specPath := w.kind, w.specPath
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { s.objectChanged(kind, specPath, obj) },
			UpdateFunc: func(old, obj any) {
				// Status patches (every evaluation) leave the generation alone.
				o, n := old.(*unstructured.Unstructured), obj.(*unstructured.Unstructured)
				if o.GetGeneration() != n.GetGeneration() {
					s.objectChanged(kind, specPath, obj)
				}
			},
			DeleteFunc: func(obj any) { s.objectDeleted(kind, obj) },
		}); err != nil {
			return err
		}
		synced = append(synced, inf.HasSynced)
	}
	factory.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if !toolscache.WaitForCacheSync(syncCtx.Done(), synced...) {
		lastErr.Lock()
		defer lastErr.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("could not list DistributedScaledObjects and DistributedScaledJobs in the hub within %s (the adapter needs list and watch on them): %v", syncTimeout, lastErr.err)
	}
	go func() {
		t := time.NewTicker(revalidateEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.revalidate(stores)
			}
		}
	}()
	return nil
}

// revalidateEvery is how often cached scalers are checked against the watched objects, and
// how old a scaler must be to be closed by that check.
const revalidateEvery = 30 * time.Second

type watchedStore struct {
	store    toolscache.Store
	specPath string
}

// revalidate closes the scalers (older than revalidateEvery) whose trigger is not in their
// hub object any more or whose object is gone. The event handlers do this as changes happen;
// this catches a call that was on its way with the old trigger while the change arrived. The
// age rule leaves alone a scaler the hub asked for before this adapter's watch saw the change.
func (s *Server) revalidate(stores map[string]watchedStore) {
	cutoff := s.cache.now().Add(-revalidateEvery)
	s.cache.removeWhere(func(e *entry) bool {
		if e.created.After(cutoff) {
			return false
		}
		for kind, ws := range stores {
			if kind != e.key.Kind && e.trig.KindKnown {
				continue
			}
			obj, exists, err := ws.store.GetByKey(e.key.Namespace + "/" + e.key.Object)
			if err != nil {
				return false
			}
			if u, ok := obj.(*unstructured.Unstructured); exists && ok && e.trig.matches(specTriggers(u, ws.specPath)) {
				return false
			}
		}
		// The object is gone, or none of its triggers is this one.
		return true
	}, "trigger not in the hub any more")
}

// objectChanged closes the scalers of obj's triggers that no longer match its spec.
func (s *Server) objectChanged(kind, specPath string, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	triggers := specTriggers(u, specPath)
	n := s.cache.removeWhere(func(e *entry) bool {
		return e.of(kind, u) && !e.trig.matches(triggers)
	}, "trigger changed in the hub")
	if n > 0 {
		s.opts.Log.V(1).Info("closed scalers of changed triggers", "kind", kind, "namespace", u.GetNamespace(), "name", u.GetName(), "count", n)
	}
}

// objectDeleted closes every scaler of the deleted object.
func (s *Server) objectDeleted(kind string, obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	s.cache.removeWhere(func(e *entry) bool { return e.of(kind, u) }, "object deleted")
}

// of reports whether e may be a trigger of the object u of kind. A hub that does not send
// fleetscale.dev/object-kind leaves the kind open: such a scaler is taken for one of either
// kind's object of that name (at worst, one is closed and built again).
func (e *entry) of(kind string, u *unstructured.Unstructured) bool {
	return (e.key.Kind == kind || !e.trig.KindKnown) && e.key.Namespace == u.GetNamespace() && e.key.Object == u.GetName()
}

// specTrigger is the part of a hub trigger the adapter compares with what it was sent.
type specTrigger struct {
	Type, Name string
	Metadata   map[string]string
}

func specTriggers(u *unstructured.Unstructured, specPath string) []specTrigger {
	list, _, _ := unstructured.NestedSlice(u.Object, "spec", specPath, "triggers")
	out := make([]specTrigger, 0, len(list))
	for _, item := range list {
		m, _ := item.(map[string]any)
		st := specTrigger{Metadata: map[string]string{}}
		st.Type, _ = m["type"].(string)
		st.Name, _ = m["name"].(string)
		md, _ := m["metadata"].(map[string]any)
		for k, v := range md {
			if sv, ok := v.(string); ok {
				st.Metadata[k] = sv
			}
		}
		out = append(out, st)
	}
	return out
}

// matches reports whether the hub object's triggers still hold the trigger t was built from:
// the one at its index, or, when the hub did not send the index, any of them.
func (t *trigger) matches(triggers []specTrigger) bool {
	same := func(st specTrigger) bool { return st.Type == t.Type && maps.Equal(st.Metadata, t.Metadata) }
	if t.HasIndex {
		return t.Index < len(triggers) && same(triggers[t.Index]) && triggers[t.Index].Name == t.Name
	}
	for _, st := range triggers {
		if same(st) {
			return true
		}
	}
	return false
}
