package main

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// A README section generated from the spec lies between
//
//	<!-- BEGIN GENERATED: name -->
//	<!-- END GENERATED: name -->
//
// on lines of their own; everything between is replaced.
const (
	beginMarker = "<!-- BEGIN GENERATED: %s (go run ./tools/apispec gen-readme; source: api/openapi.yaml) -->"
	endMarker   = "<!-- END GENERATED: %s -->"
)

// Sections renders every generated section from the spec, by name.
func (s *Spec) Sections() (map[string]string, error) {
	fields, err := s.publishFieldsTable()
	if err != nil {
		return nil, fmt.Errorf("publish-fields: %w", err)
	}
	errs, err := s.errorsTable()
	if err != nil {
		return nil, fmt.Errorf("errors: %w", err)
	}
	return map[string]string{"publish-fields": fields, "errors": errs}, nil
}

// UpdateREADME replaces each generated section of readme with its new
// content. It returns the new text and the names of the sections whose
// content changed. Every section must be present exactly once.
func UpdateREADME(readme string, sections map[string]string) (string, []string, error) {
	names := make([]string, 0, len(sections))
	for name := range sections {
		names = append(names, name)
	}
	sort.Strings(names)
	var stale []string
	for _, name := range names {
		begin, end := fmt.Sprintf(beginMarker, name), fmt.Sprintf(endMarker, name)
		if strings.Count(readme, begin) != 1 || strings.Count(readme, end) != 1 {
			return "", nil, fmt.Errorf("README: want exactly one %q and one %q", begin, end)
		}
		i := strings.Index(readme, begin) + len(begin)
		j := strings.Index(readme, end)
		if j < i {
			return "", nil, fmt.Errorf("README: %q comes before %q", end, begin)
		}
		body := "\n" + sections[name]
		if readme[i:j] != body {
			stale = append(stale, name)
			readme = readme[:i] + body + readme[j:]
		}
	}
	return readme, stale, nil
}

// publishFieldsTable is thPublish's field table: PublishRequest's
// properties in their written order, each with its type and rules.
func (s *Spec) publishFieldsTable() (string, error) {
	ref := s.Doc.Components.Schemas["PublishRequest"]
	if ref == nil || ref.Value == nil {
		return "", errors.New("components.schemas.PublishRequest is missing")
	}
	order, err := s.propertyOrder("components", "schemas", "PublishRequest", "properties")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| field | type | rules |\n|---|---|---|\n")
	for _, name := range order {
		p := ref.Value.Properties[name]
		if p == nil || p.Value == nil {
			return "", fmt.Errorf("property %s did not load", name)
		}
		if p.Value.Description == "" {
			return "", fmt.Errorf("property %s has no description (its rules)", name)
		}
		typ := typeOf(p.Value, 0)
		if strings.ContainsAny(typ, "[{") {
			typ = "`" + typ + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, cell(typ), cell(p.Value.Description))
	}
	return b.String(), nil
}

// typeOf writes a schema's type the way the README does: string,
// [string], {options: [string]}, [{type: "image"|"video", url, altText?}].
func typeOf(s *openapi3.Schema, depth int) string {
	if s == nil || depth > 4 {
		return "any"
	}
	switch {
	case s.Type.Is("array"):
		if s.Items == nil {
			return "[any]"
		}
		return "[" + typeOf(s.Items.Value, depth+1) + "]"
	case s.Type.Is("object"):
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return fieldRank(names[i]) < fieldRank(names[j]) })
		var parts []string
		for _, n := range names {
			p := s.Properties[n].Value
			part := n
			if !slices.Contains(s.Required, n) {
				part += "?"
			}
			switch {
			case p.Type.Is("array") || p.Type.Is("object"):
				part += ": " + typeOf(p, depth+1)
			case len(p.Enum) > 0 && len(p.Enum) <= 3:
				var vs []string
				for _, v := range p.Enum {
					vs = append(vs, strconv.Quote(fmt.Sprint(v)))
				}
				part += ": " + strings.Join(vs, "|")
			}
			parts = append(parts, part)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case s.Type != nil && len(*s.Type) > 0:
		return strings.Join(*s.Type, "|")
	}
	return "any"
}

// fieldRank orders an object's fields as a reader expects them.
func fieldRank(name string) string {
	for i, n := range []string{"type", "id", "offset", "length", "url", "options", "styles", "provider", "altText"} {
		if n == name {
			return fmt.Sprintf("%02d", i)
		}
	}
	return "99" + name
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// errorsTable is the Errors table: every entry of the ErrorCode catalogue,
// by status, with the functions whose answers carry it.
func (s *Spec) errorsTable() (string, error) {
	cat, err := s.Catalogue()
	if err != nil {
		return "", err
	}
	type key struct {
		code   string
		status int
	}
	// Which operations carry each code with each status.
	carriers := map[key][]Operation{}
	ops := s.Operations()
	for _, op := range ops {
		for status, codes := range op.Codes() {
			for _, c := range codes {
				carriers[key{c, status}] = append(carriers[key{c, status}], op)
			}
		}
	}
	// What answers a method a path does not have applies to every function.
	anyMethod := map[string]bool{}
	if r := s.Doc.Components.Responses["MethodNotAllowed"]; r != nil && r.Value != nil {
		for _, mt := range r.Value.Content {
			for _, c := range errorCodesIn(mt.Schema.Value, 0) {
				anyMethod[c] = true
			}
		}
	}
	functions := map[string][]Operation{} // function → its operations but preflights
	var allFunctions []string
	for _, op := range ops {
		if op.Method == http.MethodOptions {
			continue
		}
		if functions[op.Function()] == nil {
			allFunctions = append(allFunctions, op.Function())
		}
		functions[op.Function()] = append(functions[op.Function()], op)
	}
	who := func(k key) string {
		if anyMethod[k.code] {
			return "all"
		}
		var names []string
		seen := map[string]bool{}
		for _, op := range carriers[k] {
			f := op.Function()
			if seen[f] {
				continue
			}
			seen[f] = true
			// Name the methods when only some of the function's operations carry it.
			var methods []string
			all := true
			for _, fop := range functions[f] {
				if slices.ContainsFunc(carriers[k], func(o Operation) bool { return o.Method == fop.Method && o.Path == fop.Path }) {
					methods = append(methods, fop.Method)
				} else {
					all = false
				}
			}
			switch {
			case len(methods) == 0: // carried by its preflight only
				names = append(names, f+" `OPTIONS`")
			case all:
				names = append(names, f)
			default:
				names = append(names, f+" `"+strings.Join(methods, "`, `")+"`")
			}
		}
		if len(seen) == len(allFunctions) {
			return "all"
		}
		return strings.Join(names, ", ")
	}
	sorted := slices.Clone(cat)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Status < sorted[j].Status })
	var b strings.Builder
	b.WriteString("| status | code | functions | when |\n|---|---|---|---|\n")
	for _, e := range sorted {
		k := key{e.Code, e.Status}
		if len(carriers[k]) == 0 && !anyMethod[e.Code] {
			return "", fmt.Errorf("%d %s: no operation answers it", e.Status, e.Code)
		}
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s |\n", e.Status, e.Code, cell(who(k)), cell(e.Description))
	}
	return b.String(), nil
}
