package clusterenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// InstallCRDs creates (or updates) the CustomResourceDefinitions found in the YAML files of
// dir (other kinds of object are skipped) and waits until all of them are Established. It
// returns their names. KEDA's own CRDs (group keda.sh) are only created: a hub where KEDA is
// installed keeps the versions KEDA installed.
func (c *Cluster) InstallCRDs(ctx context.Context, dir string) ([]string, error) {
	crds, err := ReadCRDs(dir)
	if err != nil {
		return nil, err
	}
	client, err := apiextensionsclient.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	var names []string
	for _, crd := range crds {
		_, err := api.Create(ctx, crd, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) && crd.Spec.Group == kedaGroup {
			err = nil
		} else if apierrors.IsAlreadyExists(err) {
			var cur *apiextensionsv1.CustomResourceDefinition
			if cur, err = api.Get(ctx, crd.Name, metav1.GetOptions{}); err == nil {
				crd.ResourceVersion = cur.ResourceVersion
				_, err = api.Update(ctx, crd, metav1.UpdateOptions{})
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: install CRD %s: %w", c.Name, crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	for _, name := range names {
		for {
			crd, err := api.Get(ctx, name, metav1.GetOptions{})
			if err == nil && crdEstablished(crd) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s: CRD %s not Established: %w (last error: %v)", c.Name, name, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return names, nil
}

// kedaGroup is the API group of KEDA's CRDs (TriggerAuthentication, ClusterTriggerAuthentication).
const kedaGroup = "keda.sh"

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// ReadCRDs decodes the CustomResourceDefinitions of every .yaml, .yml and .json file in dir
// (not its subdirectories), in file name order. It fails when there are none.
func ReadCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || !slices.Contains([]string{".yaml", ".yml", ".json"}, ext) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := dec.Decode(&crd); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if crd.Kind != "CustomResourceDefinition" || crd.Name == "" {
				continue // an empty document, a kustomization.yaml, ...
			}
			crds = append(crds, &crd)
		}
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinitions in %s", dir)
	}
	return crds, nil
}
