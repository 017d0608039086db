// Package lint checks Tranche objects without a cluster: against the CRDs' schemas and CEL
// rules as the API server would, then for what the API server cannot see (a built-in metric
// the provider does not ship, a query template that does not render), and optionally by
// running each query once against a Prometheus.
package lint

import (
	"context"
	"fmt"
	"io/fs"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/tranche-dev/tranche/config/crd"
)

// kindSchema is what validating one kind takes, built once from its CRD.
type kindSchema struct {
	structural *structuralschema.Structural
	openAPI    validation.SchemaValidator
	rules      *cel.Validator // nil without CEL rules
}

// Schemas validates objects of the kinds Tranche's CRDs define.
type Schemas struct {
	kinds map[schema.GroupVersionKind]kindSchema
}

// LoadSchemas reads the CRDs built into the binary.
func LoadSchemas() (*Schemas, error) {
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	s := &Schemas{kinds: map[schema.GroupVersionKind]kindSchema{}}
	for _, file := range files {
		data, err := fs.ReadFile(crd.Bases, file)
		if err != nil {
			return nil, err
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &def); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, v := range def.Spec.Versions {
			ks, err := newKindSchema(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("%s, version %s: %w", file, v.Name, err)
			}
			s.kinds[schema.GroupVersionKind{Group: def.Spec.Group, Version: v.Name, Kind: def.Spec.Names.Kind}] = ks
		}
	}
	return s, nil
}

func newKindSchema(v1 *apiextensionsv1.JSONSchemaProps) (kindSchema, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1, &internal, nil); err != nil {
		return kindSchema{}, err
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return kindSchema{}, err
	}
	openAPI, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		return kindSchema{}, err
	}
	return kindSchema{structural: structural, openAPI: openAPI, rules: cel.NewValidator(structural, true, celconfig.PerCallLimit)}, nil
}

// Knows reports whether gvk is one of the kinds the schemas validate.
func (s *Schemas) Knows(gvk schema.GroupVersionKind) bool {
	_, ok := s.kinds[gvk]
	return ok
}

// Validate checks obj as the API server does on create with strict field validation:
// unknown fields, then (after defaulting) the OpenAPI schema, list keys and the CEL rules. The errors
// read as the API server's. obj is not changed.
func (s *Schemas) Validate(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	gvk := obj.GroupVersionKind()
	ks, ok := s.kinds[gvk]
	if !ok {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), gvk.String(), s.kindNames())}
	}
	u := obj.DeepCopy().Object
	var errs field.ErrorList
	unknown := pruning.PruneWithOptions(u, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		errs = append(errs, &field.Error{Type: field.ErrorTypeForbidden, Field: path, Detail: "unknown field: remove it, or check its spelling and indentation"})
	}
	structuraldefaulting.Default(u, ks.structural)
	if name, _, _ := unstructured.NestedString(u, "metadata", "name"); name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "name is required"))
	}
	errs = append(errs, validation.ValidateCustomResource(nil, u, ks.openAPI)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, ks.structural, u)...)
	if ks.rules != nil {
		celErrs, _ := ks.rules.Validate(ctx, nil, ks.structural, u, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs
}

func (s *Schemas) kindNames() []string {
	var names []string
	for gvk := range s.kinds {
		names = append(names, gvk.GroupVersion().String()+" "+gvk.Kind)
	}
	return names
}
