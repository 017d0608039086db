package providers

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// NewUnstructured is an empty object of a kind, named: what a Router Gets, or fills and
// Creates, for a kind of another project's that Tranche has no Go types for.
func NewUnstructured(gvk schema.GroupVersionKind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// Field is a field of an object read as unstructured (another project's kind), found by its
// path from the object's root, for reading it with its type checked. Its As methods read the
// value as one type: a value of another type is an error that names the object and the path
// ("VirtualService shop/podinfo: spec.http[2].route is a string, not a list"), never a
// missing field. A field under a missing one is missing; a field under one of the wrong
// type carries that one's error. A null value is missing, as the API server reads it.
//
// Whose field it is decides what a wrong type means, so callers mark the error: Malformed for
// a user's field that Tranche keeps and cannot repair, Unreadable for one of Tranche's own,
// which SetRoutes writes again.
type Field struct {
	object string // the object's kind, namespace and name, as errors name it
	path   string
	value  any
	found  bool
	err    error // a field on the path above has the wrong type
}

// Fields is the root of u's content, for reading its fields.
func Fields(u *unstructured.Unstructured) Field {
	object := u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
	return Field{object: object, value: u.Object, found: u.Object != nil}
}

// Get is the field at keys below f, each the key of an object.
func (f Field) Get(keys ...string) Field {
	for _, key := range keys {
		next := Field{object: f.object, path: key, err: f.err}
		if f.path != "" {
			next.path = f.path + "." + key
		}
		if f.err == nil && f.found {
			if m, ok := f.value.(map[string]any); ok {
				next.value = m[key]
				next.found = next.value != nil
			} else {
				next.err = f.wrongType("an object")
			}
		}
		f = next
	}
	return f
}

// Path is where the field is in its object, such as spec.http[2].route.
func (f Field) Path() string { return f.path }

// Found reports whether the field is there (false too when a field above it has the wrong
// type: the As methods say so).
func (f Field) Found() bool { return f.err == nil && f.found }

// Value is the field's value as it is, of whatever type: nil when it is missing.
func (f Field) Value() any {
	if !f.Found() {
		return nil
	}
	return f.value
}

// AsMap reads an object. The map is the object's own, not a copy: change it only to write
// it back.
func (f Field) AsMap() (map[string]any, bool, error) {
	if f.err != nil || !f.found {
		return nil, false, f.err
	}
	m, ok := f.value.(map[string]any)
	if !ok {
		return nil, false, f.wrongType("an object")
	}
	return m, true, nil
}

// AsList reads a list, as the fields of its items.
func (f Field) AsList() ([]Field, bool, error) {
	if f.err != nil || !f.found {
		return nil, false, f.err
	}
	items, ok := f.value.([]any)
	if !ok {
		return nil, false, f.wrongType("a list")
	}
	out := make([]Field, len(items))
	for i, item := range items {
		out[i] = Field{object: f.object, path: f.path + "[" + strconv.Itoa(i) + "]", value: item, found: item != nil}
	}
	return out, true, nil
}

// AsString reads a string.
func (f Field) AsString() (string, bool, error) {
	if f.err != nil || !f.found {
		return "", false, f.err
	}
	s, ok := f.value.(string)
	if !ok {
		return "", false, f.wrongType("a string")
	}
	return s, true, nil
}

// AsInt reads a whole number. JSON has only numbers: one written as 5.0 is a whole number.
func (f Field) AsInt() (int64, bool, error) {
	if f.err != nil || !f.found {
		return 0, false, f.err
	}
	switch n := f.value.(type) {
	case int64:
		return n, true, nil
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true, nil
		}
	}
	return 0, false, f.wrongType("a whole number")
}

// AsFloat reads a number.
func (f Field) AsFloat() (float64, bool, error) {
	if f.err != nil || !f.found {
		return 0, false, f.err
	}
	switch n := f.value.(type) {
	case int64:
		return float64(n), true, nil
	case float64:
		return n, true, nil
	}
	return 0, false, f.wrongType("a number")
}

// Invalid is the error of a field that is wrong other than by its type, as why says: it
// names the object and the path as type errors do ("TraefikService shop/api:
// spec.mirroring.mirrors has 2 items, not 1"). For the root (Fields) it names the object only.
func (f Field) Invalid(why string) error {
	if f.path == "" {
		return fmt.Errorf("%s: %s", f.object, why)
	}
	return fmt.Errorf("%s: %s %s", f.object, f.path, why)
}

func (f Field) wrongType(want string) error {
	return fmt.Errorf("%s: %s is %s, not %s", f.object, f.path, typeOf(f.value), want)
}

// typeOf says what a JSON value is, in the words of the errors.
func typeOf(v any) string {
	switch n := v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "a number"
	case float64:
		if n == float64(int64(n)) {
			return "a number"
		}
		return "a fraction"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// Malformed marks err, a wrong type in a field of the user's that Tranche must keep, as
// ErrMalformed: only the user can fix it. It returns nil for nil.
func Malformed(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", err, ErrMalformed)
}

// Unreadable marks err, a wrong type in a field of Tranche's own, as ErrUnreadable:
// SetRoutes writes the field again. It returns nil for nil.
func Unreadable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", err, ErrUnreadable)
}
