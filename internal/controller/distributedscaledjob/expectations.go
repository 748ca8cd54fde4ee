package distributedscaledjob

import (
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/fleetscale/fleetscale/internal/jobs"
)

// expectationTTL bounds how long a write may stay invisible in a member's cache before the
// cache is trusted again.
const expectationTTL = 30 * time.Second

// expectations remember the Jobs this controller created or deleted until the member caches
// show it, like the ReplicaSet controller's expectations: an event-driven reconcile that ran
// before the cache caught up would otherwise count a Job just created as missing and create it
// again (or count a Job just deleted as running). It is a cache-consistency aid, not state:
// after a restart the caches list everything afresh.
type expectations struct {
	mu      sync.Mutex
	created map[types.UID]map[string]expectedJob
	deleted map[types.UID]map[string]time.Time
}

type expectedJob struct {
	job jobs.Job
	at  time.Time
}

func newExpectations() *expectations {
	return &expectations{created: map[types.UID]map[string]expectedJob{}, deleted: map[types.UID]map[string]time.Time{}}
}

func (e *expectations) create(uid types.UID, j jobs.Job, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.created[uid] == nil {
		e.created[uid] = map[string]expectedJob{}
	}
	e.created[uid][j.Key()] = expectedJob{job: j, at: now}
}

func (e *expectations) delete(uid types.UID, key string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deleted[uid] == nil {
		e.deleted[uid] = map[string]time.Time{}
	}
	e.deleted[uid][key] = now
}

// reconcile adjusts what member's cache shows: Jobs created but not listed yet are added,
// Jobs deleted but still listed are marked as being deleted. Expectations the cache has met,
// or that are older than expectationTTL, are dropped.
func (e *expectations) reconcile(uid types.UID, member string, cached []jobs.Job, now time.Time) []jobs.Job {
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[string]bool{}
	out := make([]jobs.Job, 0, len(cached))
	for _, j := range cached {
		key := j.Key()
		seen[key] = true
		if at, ok := e.deleted[uid][key]; ok {
			if j.Deleting || now.Sub(at) > expectationTTL {
				delete(e.deleted[uid], key)
			} else {
				j.Deleting = true
			}
		}
		out = append(out, j)
	}
	for key := range e.deleted[uid] {
		if !seen[key] && memberOfKey(key) == member {
			delete(e.deleted[uid], key)
		}
	}
	for key, x := range e.created[uid] {
		if x.job.Member != member {
			continue
		}
		if seen[key] || now.Sub(x.at) > expectationTTL {
			delete(e.created[uid], key)
			continue
		}
		// Pending from now on: a Job the cache has not shown yet cannot be judged stuck.
		j := x.job
		j.Pending, j.PendingSince = true, now
		out = append(out, j)
	}
	return out
}

func (e *expectations) forget(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.created, uid)
	delete(e.deleted, uid)
}

// memberOfKey returns the member part of a jobs.Key.
func memberOfKey(key string) string {
	member, _, _ := strings.Cut(key, "/")
	return member
}
