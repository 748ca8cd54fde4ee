package distributedscaledjob_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// A DSJ reads its triggers through the same cache as a DSO: here a metrics-api trigger whose
// bearer token is a TriggerAuthentication env parameter, resolved from the jobTargetRef
// template in the hub (valueFrom a Secret of the DSJ's namespace, as KEDA resolves a
// ScaledJob's env). A wrong token is Ready=False naming the trigger, and creates no Jobs.
func TestTriggerAuthenticationFromJobTemplateEnv(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	const token = "dsj-bearer-T0ken"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"pending": 6}`))
	}))
	defer api.Close()
	manifest := func(secretValue string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: api
stringData:
  token: %s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: api-auth
spec:
  env:
  - parameter: bearerToken
    name: API_TOKEN
---
kind: DistributedScaledJob
apiVersion: keda.kedify.io/v1alpha1
metadata:
  name: worker
spec:
  memberClusters:
  - name: k3d-member-1
  - name: k3d-member-2
  scaledJobSpec:
    maxReplicaCount: 10
    pollingInterval: 1
    triggers:
    - type: metrics-api
      name: pending
      metadata:
        url: %s/queue
        valueLocation: pending
        targetValue: "2"
        authModes: bearer
      authenticationRef:
        name: api-auth
    jobTargetRef:
      template:
        metadata:
          annotations:
            %s: 300s
        spec:
          containers:
          - name: worker
            image: worker
            env:
            - name: API_TOKEN
              valueFrom:
                secretKeyRef:
                  name: api
                  key: token
          restartPolicy: Never
`, secretValue, api.URL, longJobsAnnotation)
	}
	apply(t, f.Hub, ns, manifest("not-the-token"))
	var uid types.UID
	Eventually(func(g Gomega) {
		dsj := getDSJ(g, f, ns, "worker")
		uid = dsj.UID
		ready := condition(dsj, v1alpha1.ConditionReady)
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Message).To(ContainSubstring(`trigger 0 (metrics-api "pending")`))
		g.Expect(ready.Message).To(ContainSubstring("HTTP 403"))
		g.Expect(eventNotes(g, f, ns, "worker", "TriggerError")).To(ContainElement(ContainSubstring("Trigger pending (metrics-api)")))
	}, timeout, poll).Should(Succeed())
	Expect(total(count(Default, f, uid, func(batchv1.Job) bool { return true }))).To(BeZero())

	// pending 6 at target 2: 3 Jobs.
	apply(t, f.Hub, ns, manifest(token))
	Eventually(func(g Gomega) {
		g.Expect(total(count(g, f, uid, isLive))).To(Equal(3))
		dsj := getDSJ(g, f, ns, "worker")
		g.Expect(condition(dsj, v1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
		g.Expect(dsj.Status.TriggerMetricsStatus).To(HaveKeyWithValue("pending", HaveField("Value", "6")))
	}, timeout, poll).Should(Succeed())
}
