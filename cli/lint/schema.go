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
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
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

// Validate checks obj as the API server does on create with strict field validation:
// unknown fields, then (after defaulting) metadata, the OpenAPI schema, list keys and, unless
// those found the object malformed, the CEL rules. The errors name the same fields and say
// the same as the API server's, though not always in the same words. It returns obj with
// the schema's defaults applied; obj itself is not changed.
func (s *Schemas) Validate(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, field.ErrorList) {
	gvk := obj.GroupVersionKind()
	ks, ok := s.kinds[gvk]
	if !ok {
		return obj, field.ErrorList{field.NotSupported(field.NewPath("kind"), gvk.GroupVersion().String()+" "+gvk.Kind, s.kindNames())}
	}
	u := obj.DeepCopy()
	var errs field.ErrorList
	unknown := pruning.PruneWithOptions(u.Object, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		errs = append(errs, &field.Error{Type: field.ErrorTypeForbidden, Field: path, Detail: "unknown field: remove it, or check its spelling and indentation"})
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, ks.structural)
	structuraldefaulting.Default(u.Object, ks.structural)
	errs = append(errs, apivalidation.ValidateObjectMetaAccessor(u, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	errs = append(errs, validation.ValidateCustomResource(nil, u.Object, ks.openAPI)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, ks.structural, u.Object)...)
	switch {
	case ks.rules == nil:
	case blocking(errs):
		errs = append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	default:
		celErrs, _ := ks.rules.Validate(ctx, nil, ks.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return u, errs
}

// blocking reports errors after which the API server does not evaluate CEL rules: a value
// of the wrong type, or not one of an enum's.
func blocking(errs field.ErrorList) bool {
	for _, err := range errs {
		if err.Type == field.ErrorTypeTypeInvalid || err.Type == field.ErrorTypeNotSupported {
			return true
		}
	}
	return false
}

func (s *Schemas) kindNames() []string {
	var names []string
	for gvk := range s.kinds {
		names = append(names, gvk.GroupVersion().String()+" "+gvk.Kind)
	}
	return names
}
