package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"threadsfunctions.dev/shared/testenv/apicheck"
)

// SpecPath is the spec's path from the repository root.
const SpecPath = apicheck.SpecPath

// RepoRoot walks up from dir to the directory that holds go.work.
var RepoRoot = apicheck.RepoRoot

// Spec is the loaded OpenAPI document, with the YAML it came from (for the
// order of properties, which the loaded document does not keep).
type Spec struct {
	Doc  *openapi3.T
	yaml yaml.Node
}

// LoadSpec reads and resolves the spec at path: every $ref must resolve
// within the file (no external references).
func LoadSpec(ctx context.Context, path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	s := &Spec{Doc: doc}
	if err := yaml.Unmarshal(raw, &s.yaml); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return s, nil
}

// Validate lints the document as OpenAPI 3.1: structure, schemas, and every
// example (media types, parameters, headers, schemas) against its schema.
func (s *Spec) Validate(ctx context.Context) error {
	if !s.Doc.IsOpenAPI31OrLater() || !strings.HasPrefix(s.Doc.OpenAPI, "3.1") {
		return fmt.Errorf("openapi is %q, want 3.1.x", s.Doc.OpenAPI)
	}
	if err := s.Doc.Validate(ctx,
		openapi3.EnableExamplesValidation(),
		openapi3.EnableSchemaDefaultsValidation(),
		openapi3.EnableSchemaPatternValidation(),
		openapi3.EnableMultiError(),
	); err != nil {
		return fmt.Errorf("invalid OpenAPI 3.1: %w", err)
	}
	return nil
}

// Operation is one method of one path.
type Operation struct {
	Method string
	Path   string
	Op     *openapi3.Operation
}

func (o Operation) String() string { return o.Method + " " + o.Path }

// Statuses are the operation's documented answer statuses, in order.
func (o Operation) Statuses() []int {
	var out []int
	for k := range o.Op.Responses.Map() {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// methodOrder is the order operations are listed in.
var methodOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodHead}

// Operations lists every operation, by path then method.
func (s *Spec) Operations() []Operation {
	var out []Operation
	for _, path := range s.Doc.Paths.InMatchingOrder() {
		item := s.Doc.Paths.Value(path)
		for method, op := range item.Operations() {
			out = append(out, Operation{Method: method, Path: path, Op: op})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return slices.Index(methodOrder, out[i].Method) < slices.Index(methodOrder, out[j].Method)
	})
	return out
}

// Function is the function an operation belongs to: its path without "/".
func (o Operation) Function() string { return strings.TrimPrefix(o.Path, "/") }

// Codes returns the error codes each documented status of the operation
// may carry: the enums of error.code in its JSON answers, and the
// x-error-codes of answers that are not JSON (HTML pages).
func (o Operation) Codes() map[int][]string {
	out := map[int][]string{}
	for k, ref := range o.Op.Responses.Map() {
		status, err := strconv.Atoi(k)
		if err != nil || ref.Value == nil {
			continue
		}
		codes := stringList(ref.Value.Extensions["x-error-codes"])
		for _, mt := range ref.Value.Content {
			if mt.Schema != nil {
				codes = append(codes, errorCodesIn(mt.Schema.Value, 0)...)
			}
		}
		slices.Sort(codes)
		codes = slices.Compact(codes)
		if len(codes) > 0 {
			out[status] = codes
		}
	}
	return out
}

// errorCodesIn finds the enums of error.code in a schema, through allOf,
// anyOf and oneOf.
func errorCodesIn(s *openapi3.Schema, depth int) []string {
	if s == nil || depth > 8 {
		return nil
	}
	var out []string
	for _, subs := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range subs {
			out = append(out, errorCodesIn(sub.Value, depth+1)...)
		}
	}
	if e := s.Properties["error"]; e != nil {
		out = append(out, codeEnum(e.Value, depth+1)...)
	}
	return out
}

func codeEnum(s *openapi3.Schema, depth int) []string {
	if s == nil || depth > 8 {
		return nil
	}
	var out []string
	for _, subs := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range subs {
			out = append(out, codeEnum(sub.Value, depth+1)...)
		}
	}
	if c := s.Properties["code"]; c != nil && c.Value != nil {
		for _, v := range c.Value.Enum {
			if str, ok := v.(string); ok {
				out = append(out, str)
			}
		}
	}
	return out
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// CatalogueEntry is one entry of the ErrorCode schema: a code, the status
// it comes with, and when.
type CatalogueEntry struct {
	Code        string
	Status      int
	Description string
}

// Catalogue reads components.schemas.ErrorCode: an anyOf of
// {const, x-status, description}.
func (s *Spec) Catalogue() ([]CatalogueEntry, error) {
	ref := s.Doc.Components.Schemas["ErrorCode"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("components.schemas.ErrorCode is missing")
	}
	var out []CatalogueEntry
	for i, e := range ref.Value.AnyOf {
		v := e.Value
		code, ok := v.Const.(string)
		if !ok || code == "" {
			return nil, fmt.Errorf("ErrorCode.anyOf[%d]: const must be a non-empty string", i)
		}
		status, err := number(v.Extensions["x-status"])
		if err != nil {
			return nil, fmt.Errorf("ErrorCode.anyOf[%d] (%s): x-status: %w", i, code, err)
		}
		if v.Description == "" {
			return nil, fmt.Errorf("ErrorCode.anyOf[%d] (%s): no description", i, code)
		}
		out = append(out, CatalogueEntry{Code: code, Status: status, Description: v.Description})
	}
	return out, nil
}

func number(v any) (int, error) {
	switch n := v.(type) {
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	case int:
		return n, nil
	case int64:
		return int(n), nil
	}
	return 0, fmt.Errorf("want an integer, got %v", v)
}

// propertyOrder returns the keys of the mapping at path in the YAML
// document, in their written order.
func (s *Spec) propertyOrder(path ...string) ([]string, error) {
	if len(s.yaml.Content) == 0 {
		return nil, errors.New("empty YAML document")
	}
	n := s.yaml.Content[0]
	for _, key := range path {
		next := mappingValue(n, key)
		if next == nil {
			return nil, fmt.Errorf("no %s in the YAML document", strings.Join(path, "."))
		}
		n = next
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s is not a mapping", strings.Join(path, "."))
	}
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys, nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
