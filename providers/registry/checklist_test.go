package registry_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli/lint"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/registry"
)

// The checklist of docs/adding-a-provider.md: every provider the registry has is named
// everywhere a provider must be, and every provider the API has is registered. A provider
// added in some of these places and not the others fails here, saying which.

const module = "github.com/tranche-dev/tranche"

// repoFile is a file of the repository, by its path from the root.
func repoFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(path)))
	require.NoError(t, err)
	return data
}

// apiFields are the JSON names of spec.provider's fields, with their Go types.
func apiFields() map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	typ := reflect.TypeFor[trancheapi.Provider]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = f
	}
	return fields
}

// packageOf is the folder, from the repository's root, of the package whose function factory is.
func packageOf(t *testing.T, factory providers.Factory) string {
	t.Helper()
	fn := runtime.FuncForPC(reflect.ValueOf(factory).Pointer()).Name() // module/providers/x.New
	slash := strings.LastIndex(fn, "/")
	dot := strings.Index(fn[slash:], ".")
	require.True(t, slash >= 0 && dot > 0, "the factory %s", fn)
	pkg, ok := strings.CutPrefix(fn[:slash+dot], module+"/")
	require.True(t, ok, "the factory %s is not of this module", fn)
	return pkg
}

// sources are the package's Go files, tests or not, by name.
func sources(t *testing.T, pkg string, tests bool) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", filepath.FromSlash(pkg), "*.go"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") != tests {
			continue
		}
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		out[filepath.Base(file)] = string(data)
	}
	return out
}

var rbacMarker = regexp.MustCompile(`(?m)^// \+kubebuilder:rbac:groups=([^,]*),resources=([^,]*),verbs=(\S+)`)

// grants reports whether one rule of the role allows verb on resource of group.
func grants(role *rbacv1.ClusterRole, group, resource, verb string) bool {
	for _, rule := range role.Rules {
		if slices.Contains(rule.APIGroups, group) && slices.Contains(rule.Resources, resource) && slices.Contains(rule.Verbs, verb) {
			return true
		}
	}
	return false
}

// samples are the sample Rollouts, by file, and the files the samples' kustomization lists.
func samples(t *testing.T) (rollouts map[string]*unstructured.Unstructured, listed []string, docs []lint.Document) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "tranche_*.yaml"))
	require.NoError(t, err)
	rollouts = map[string]*unstructured.Unstructured{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		read, err := lint.Read(filepath.Base(file), bytes.NewReader(data))
		require.NoError(t, err)
		for _, doc := range read {
			if doc.Object.GetKind() == "Rollout" {
				rollouts[filepath.Base(file)] = doc.Object
			}
		}
		docs = append(docs, read...)
	}
	var kustomization struct{ Resources []string }
	require.NoError(t, yaml.Unmarshal(repoFile(t, "config/samples/kustomization.yaml"), &kustomization))
	return rollouts, kustomization.Resources, docs
}

func TestEveryProviderIsWiredIn(t *testing.T) {
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Provider struct {
										Properties  map[string]any
										Validations []struct{ Rule string } `json:"x-kubernetes-validations"`
									}
								}
							}
						}
					}
				}
			}
		}
	}
	require.NoError(t, yaml.Unmarshal(repoFile(t, "config/crd/bases/tranche.dev_rollouts.yaml"), &crd))
	require.NotEmpty(t, crd.Spec.Versions)
	role := &rbacv1.ClusterRole{}
	require.NoError(t, yaml.Unmarshal(repoFile(t, "config/rbac/role.yaml"), role))
	sampleRollouts, listed, sampleDocs := samples(t)
	schemas, err := lint.LoadSchemas()
	require.NoError(t, err)
	findings := lint.Lint(t.Context(), schemas, sampleDocs, lint.Options{Providers: registry.Default(), Namespace: "default"})
	readme := string(repoFile(t, "README.md"))
	table := readme[strings.Index(readme, tableBegin)+len(tableBegin) : strings.Index(readme, tableEnd)]

	for name, factory := range registry.Default() {
		t.Run(name, func(t *testing.T) {
			pkg := packageOf(t, factory)
			field, ok := apiFields()[name]
			assert.True(t, ok, "api/v1alpha1: Provider (spec.provider) has no field with the JSON name %q", name)
			if ok && assert.Equal(t, reflect.Pointer, field.Type.Kind(), "Provider.%s: an optional block, a pointer", field.Name) {
				ro := &trancheapi.Rollout{}
				reflect.ValueOf(&ro.Spec.Provider).Elem().FieldByIndex(field.Index).Set(reflect.New(field.Type.Elem()))
				assert.Equal(t, name, providers.Name(ro), "providers.Name (providers/router.go) for a Rollout with spec.provider.%s", name)
			}

			for _, v := range crd.Spec.Versions {
				provider := v.Schema.OpenAPIV3Schema.Properties.Spec.Properties.Provider
				assert.Contains(t, provider.Properties, name, "the CRD's spec.provider, version %s: run make manifests", v.Name)
				assert.True(t, slices.ContainsFunc(provider.Validations, func(r struct{ Rule string }) bool {
					return strings.Contains(r.Rule, "has(self."+name+")")
				}), "the exactly-one rule of spec.provider (api/v1alpha1/provider_types.go), version %s, leaves out %s", v.Name, name)
			}

			markers := 0
			for file, src := range sources(t, pkg, false) {
				for _, m := range rbacMarker.FindAllStringSubmatch(src, -1) {
					markers++
					for _, group := range strings.Split(strings.Trim(m[1], `"`), ";") {
						for _, resource := range strings.Split(m[2], ";") {
							for _, verb := range strings.Split(m[3], ";") {
								assert.True(t, grants(role, group, resource, verb), "config/rbac/role.yaml does not let the manager %s %s.%s, as %s/%s asks: run make manifests",
									verb, resource, group, pkg, file)
							}
						}
					}
				}
			}
			assert.NotZero(t, markers, "%s has no +kubebuilder:rbac marker saying what the provider may do", pkg)
			assert.Contains(t, sources(t, pkg, false), "doc.go", "%s has no doc.go", pkg)

			var sample string
			for file, r := range sampleRollouts {
				if spec, _, _ := unstructured.NestedMap(r.Object, "spec", "provider"); spec != nil {
					if _, ok := spec[name]; ok {
						sample = file
					}
				}
			}
			if assert.NotEmpty(t, sample, "config/samples has no Rollout with spec.provider.%s", name) {
				assert.Contains(t, listed, sample, "config/samples/kustomization.yaml does not list %s", sample)
				for _, f := range findings {
					assert.True(t, f.Source != sample || f.Warning, "the offline lint (cli/lint) refuses %s: %s", sample, f)
				}
			}

			assert.Contains(t, table, "| `"+name+"` |", "the README's table of providers has no row for %s: go test ./providers/registry -update", name)
			assert.Contains(t, apiProviders, name, "apiProviders (registry_test.go), the order of the README's table, leaves out %s", name)
			assert.Contains(t, providerBlocks, name, "providerBlocks (refusals_test.go) has no minimal block of %s: what the API refuses of it goes unchecked", name)

			runs := false
			for _, src := range sources(t, pkg, true) {
				runs = runs || strings.Contains(src, "conformance.Run(")
			}
			assert.True(t, runs, "no test of %s runs the conformance suite (conformance.Run)", pkg)
		})
	}

	t.Run("every provider of the API is registered", func(t *testing.T) {
		for name := range apiFields() {
			assert.Contains(t, registry.Default(), name, "spec.provider.%s is accepted by the API, and no Router is registered for it (providers/registry)", name)
		}
	})
}
