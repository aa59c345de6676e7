// Package deploycheck checks, offline, that the deployment (terraform/, the
// source bundles of scripts/bundle) agrees with the code: every function is
// deployed with the entry point it registers, the environment it reads, the
// secrets and the IAM it needs and nothing more.
//
// Terraform cannot be planned here (no provider registry), so this package
// parses the configuration with HCL and evaluates what it needs with
// placeholders for values only known after apply (service account emails,
// resource ids, the project number), derived from the resources' own
// arguments the way the Google provider derives them.
package deploycheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// PlaceholderProjectNumber stands for the project number (data.google_project).
const PlaceholderProjectNumber = "123456789012"

// Block is a resource or data block: `resource "TYPE" "NAME" {…}`.
type Block struct {
	Kind string // "resource" or "data"
	Type string
	Name string
	Body *hclsyntax.Body
	File string // base name of the .tf file
}

// Addr is the block's address: TYPE.NAME or data.TYPE.NAME.
func (b *Block) Addr() string {
	if b.Kind == "data" {
		return "data." + b.Type + "." + b.Name
	}
	return b.Type + "." + b.Name
}

// Attr returns the expression of a top-level argument, or nil.
func (b *Block) Attr(name string) hcl.Expression { return attrOf(b.Body, name) }

func attrOf(body *hclsyntax.Body, name string) hcl.Expression {
	if body == nil {
		return nil
	}
	if a, ok := body.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

// Nested returns the bodies of the nested blocks at path (e.g.
// "service_config", or "build_config", "source", "storage_source").
func (b *Block) Nested(path ...string) []*hclsyntax.Body {
	bodies := []*hclsyntax.Body{b.Body}
	for _, p := range path {
		var next []*hclsyntax.Body
		for _, body := range bodies {
			for _, nb := range body.Blocks {
				if nb.Type == p {
					next = append(next, nb.Body)
				}
			}
		}
		bodies = next
	}
	return bodies
}

// Module is a parsed Terraform root module with an evaluation context.
type Module struct {
	Dir       string
	Files     map[string][]byte // base name → source, .tf files only
	Blocks    []*Block
	Variables map[string]*hclsyntax.Body
	Locals    map[string]hcl.Expression

	// ReadFiles records the files read through file() (absolute, cleaned).
	ReadFiles map[string]bool

	ctx *hcl.EvalContext
}

// LoadModule parses every .tf file of dir, reads variable values from
// tfvarsFile (e.g. terraform.tfvars.example; variables it does not set take
// their defaults) and evaluates locals and resources to a fixed point.
func LoadModule(dir, tfvarsFile string) (*Module, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m := &Module{
		Dir:       dir,
		Files:     map[string][]byte{},
		Variables: map[string]*hclsyntax.Body{},
		Locals:    map[string]hcl.Expression{},
		ReadFiles: map[string]bool{},
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	sort.Strings(paths)
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(p)
		m.Files[base] = src
		f, diags := hclsyntax.ParseConfig(src, base, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", base, diags.Error())
		}
		for _, blk := range f.Body.(*hclsyntax.Body).Blocks {
			switch blk.Type {
			case "resource", "data":
				if len(blk.Labels) != 2 {
					return nil, fmt.Errorf("%s: %s block needs two labels", base, blk.Type)
				}
				m.Blocks = append(m.Blocks, &Block{Kind: blk.Type, Type: blk.Labels[0], Name: blk.Labels[1], Body: blk.Body, File: base})
			case "variable":
				m.Variables[blk.Labels[0]] = blk.Body
			case "locals":
				for name, a := range blk.Body.Attributes {
					if _, dup := m.Locals[name]; dup {
						return nil, fmt.Errorf("%s: local.%s defined twice", base, name)
					}
					m.Locals[name] = a.Expr
				}
			}
		}
	}
	vars, err := m.variableValues(tfvarsFile)
	if err != nil {
		return nil, err
	}
	m.evaluate(vars)

	// count = 0 removes a block; several instances (count > 1, for_each)
	// are beyond these checks: the configuration declares each resource.
	kept := m.Blocks[:0]
	for _, b := range m.Blocks {
		if b.Attr("for_each") != nil {
			return nil, fmt.Errorf("%s: for_each is not supported by deploycheck; declare each resource", b.Addr())
		}
		if e := b.Attr("count"); e != nil {
			v, err := m.Eval(e)
			if err == nil {
				v, err = convert.Convert(v, cty.Number)
			}
			if err != nil || v.IsNull() {
				return nil, fmt.Errorf("%s: count: %v", b.Addr(), err)
			}
			n, _ := v.AsBigFloat().Int64()
			switch n {
			case 0:
				continue
			case 1:
			default:
				return nil, fmt.Errorf("%s: count = %d is not supported by deploycheck; declare each resource", b.Addr(), n)
			}
		}
		kept = append(kept, b)
	}
	m.Blocks = kept
	return m, nil
}

// Resources returns the resource blocks of one type, in file order.
func (m *Module) Resources(typ string) []*Block {
	var out []*Block
	for _, b := range m.Blocks {
		if b.Kind == "resource" && b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// Eval evaluates an expression in the module's context. Values that stay
// unknown (placeholders that could not be derived) are errors.
func (m *Module) Eval(expr hcl.Expression) (cty.Value, error) {
	if expr == nil {
		return cty.NilVal, fmt.Errorf("missing expression")
	}
	v, diags := expr.Value(m.ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s: %s", expr.Range(), diags.Error())
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, fmt.Errorf("%s: value cannot be known before apply here (no placeholder for a reference)", expr.Range())
	}
	return v, nil
}

// EvalString evaluates an expression to a string ("" and an error if it is
// not one).
func (m *Module) EvalString(expr hcl.Expression) (string, error) {
	v, err := m.Eval(expr)
	if err != nil {
		return "", err
	}
	return AsString(v)
}

// AsString converts a known value to a Go string.
func AsString(v cty.Value) (string, error) {
	if v.IsNull() {
		return "", fmt.Errorf("value is null")
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", fmt.Errorf("not a string: %s", v.Type().FriendlyName())
	}
	return s.AsString(), nil
}

// EvalStringMap evaluates an object or map expression to map[string]string.
func (m *Module) EvalStringMap(expr hcl.Expression) (map[string]string, error) {
	v, err := m.Eval(expr)
	if err != nil {
		return nil, err
	}
	if v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil, fmt.Errorf("%s: not a map", expr.Range())
	}
	out := map[string]string{}
	for k, e := range v.AsValueMap() {
		s, err := AsString(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", expr.Range(), k, err)
		}
		out[k] = s
	}
	return out, nil
}

// traversal parses a reference such as "var.project" or
// "google_service_account.x.email" into an expression.
func traversal(ref string) hcl.Expression {
	e, diags := hclsyntax.ParseExpression([]byte(ref), ref, hcl.InitialPos)
	if diags.HasErrors() {
		panic(fmt.Sprintf("bad reference %q: %s", ref, diags.Error()))
	}
	return e
}

// StringAttr evaluates a block argument to a string; "" when absent.
func (m *Module) StringAttr(body *hclsyntax.Body, name string) (string, error) {
	e := attrOf(body, name)
	if e == nil {
		return "", nil
	}
	return m.EvalString(e)
}

// variableValues returns var.* : tfvars values over defaults.
func (m *Module) variableValues(tfvarsFile string) (map[string]cty.Value, error) {
	vals := map[string]cty.Value{}
	for name, body := range m.Variables {
		if e := attrOf(body, "default"); e != nil {
			v, diags := e.Value(nil)
			if diags.HasErrors() {
				return nil, fmt.Errorf("variable %q: default: %s", name, diags.Error())
			}
			vals[name] = v
		}
	}
	if tfvarsFile != "" {
		src, err := os.ReadFile(tfvarsFile)
		if err != nil {
			return nil, err
		}
		f, diags := hclsyntax.ParseConfig(src, filepath.Base(tfvarsFile), hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", tfvarsFile, diags.Error())
		}
		attrs, diags := f.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %s", tfvarsFile, diags.Error())
		}
		for name, a := range attrs {
			if _, ok := m.Variables[name]; !ok {
				return nil, fmt.Errorf("%s sets %q, which no variable block declares", filepath.Base(tfvarsFile), name)
			}
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, fmt.Errorf("%s: %s", tfvarsFile, diags.Error())
			}
			vals[name] = v
		}
	}
	var missing []string
	for name := range m.Variables {
		if _, ok := vals[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("variables without a default or a value in %s: %s", filepath.Base(tfvarsFile), strings.Join(missing, ", "))
	}
	return vals, nil
}

// evaluate computes locals and resource objects to a fixed point: each pass
// evaluates everything with the previous pass's values, so chains of
// references resolve in as many passes as they are long.
func (m *Module) evaluate(vars map[string]cty.Value) {
	locals := map[string]cty.Value{}
	for name := range m.Locals {
		locals[name] = cty.DynamicVal
	}
	objects := map[string]cty.Value{} // address → object
	for _, b := range m.Blocks {
		objects[b.Addr()] = cty.DynamicVal
	}
	varObj := cty.EmptyObjectVal
	if len(vars) > 0 {
		varObj = cty.ObjectVal(vars)
	}
	project, region := "", ""
	if v, ok := vars["project"]; ok && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
		project = v.AsString()
	}
	if v, ok := vars["region"]; ok && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
		region = v.AsString()
	}

	for pass := 0; pass < 20; pass++ {
		m.ctx = m.context(varObj, locals, objects)
		changed := false
		for name, expr := range m.Locals {
			v, diags := expr.Value(m.ctx)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			if !sameValue(v, locals[name]) {
				locals[name], changed = v, true
			}
		}
		for _, b := range m.Blocks {
			v := m.blockObject(b, project, region)
			if !sameValue(v, objects[b.Addr()]) {
				objects[b.Addr()], changed = v, true
			}
		}
		if !changed {
			break
		}
	}
	m.ctx = m.context(varObj, locals, objects)
}

func sameValue(a, b cty.Value) bool {
	if a.IsWhollyKnown() != b.IsWhollyKnown() {
		return false
	}
	return a.GoString() == b.GoString()
}

func (m *Module) context(varObj cty.Value, locals, objects map[string]cty.Value) *hcl.EvalContext {
	resources := map[string]map[string]cty.Value{}
	data := map[string]map[string]cty.Value{}
	for _, b := range m.Blocks {
		dst := resources
		if b.Kind == "data" {
			dst = data
		}
		if dst[b.Type] == nil {
			dst[b.Type] = map[string]cty.Value{}
		}
		dst[b.Type][b.Name] = objects[b.Addr()]
	}
	vars := map[string]cty.Value{
		"var": varObj,
		"path": cty.ObjectVal(map[string]cty.Value{
			"module": cty.StringVal(m.Dir),
			"root":   cty.StringVal(m.Dir),
			"cwd":    cty.StringVal(m.Dir),
		}),
	}
	if len(locals) > 0 {
		vars["local"] = cty.ObjectVal(locals)
	}
	for typ, byName := range resources {
		vars[typ] = cty.ObjectVal(byName)
	}
	if len(data) > 0 {
		d := map[string]cty.Value{}
		for typ, byName := range data {
			d[typ] = cty.ObjectVal(byName)
		}
		vars["data"] = cty.ObjectVal(d)
	}
	return &hcl.EvalContext{Variables: vars, Functions: m.functions()}
}

// functions are the Terraform functions the configuration may use. file()
// reads for real (relative to the module, where terraform runs); filemd5()
// returns "md5(<path>)" so that checks can see which file an object name
// hashes (the bundles need not exist to check the configuration).
func (m *Module) functions() map[string]function.Function {
	resolve := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(m.Dir, p)
		}
		return filepath.Clean(p)
	}
	pathParam := []function.Parameter{{Name: "path", Type: cty.String}}
	return map[string]function.Function{
		"file": function.New(&function.Spec{
			Params: pathParam,
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				p := resolve(args[0].AsString())
				b, err := os.ReadFile(p)
				if err != nil {
					return cty.NilVal, err
				}
				m.ReadFiles[p] = true
				return cty.StringVal(string(b)), nil
			},
		}),
		"filemd5": function.New(&function.Spec{
			Params: pathParam,
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.StringVal(FileMD5Placeholder(resolve(args[0].AsString()))), nil
			},
		}),
		"join":     stdlib.JoinFunc,
		"lower":    stdlib.LowerFunc,
		"upper":    stdlib.UpperFunc,
		"format":   stdlib.FormatFunc,
		"coalesce": stdlib.CoalesceFunc,
		"contains": stdlib.ContainsFunc,
		"length":   stdlib.LengthFunc,
		"replace":  stdlib.ReplaceFunc,
		"concat":   stdlib.ConcatFunc,
		"merge":    stdlib.MergeFunc,
		"tostring": stdlib.MakeToFunc(cty.String),
	}
}

// FileMD5Placeholder is what filemd5(path) evaluates to here.
func FileMD5Placeholder(absPath string) string { return "md5(" + filepath.Clean(absPath) + ")" }

// blockObject evaluates a block's arguments and nested blocks into an
// object, then adds the attributes the provider computes (placeholders).
func (m *Module) blockObject(b *Block, project, region string) cty.Value {
	attrs := m.bodyAttrs(b.Body)
	str := func(name string) string {
		v, ok := attrs[name]
		if !ok || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return ""
		}
		return v.AsString()
	}
	set := func(name, value string) {
		if _, ok := attrs[name]; !ok && value != "" {
			attrs[name] = cty.StringVal(value)
		}
	}
	p := str("project")
	if p == "" {
		p = project
		set("project", project)
	}
	loc := str("location")
	if loc == "" {
		loc = region
	}
	switch b.Type {
	case "google_project":
		set("project_id", project)
		set("number", PlaceholderProjectNumber)
		set("id", "projects/"+project)
	case "google_service_account":
		if id := str("account_id"); id != "" {
			email := id + "@" + p + ".iam.gserviceaccount.com"
			set("email", email)
			set("member", "serviceAccount:"+email)
			set("name", "projects/"+p+"/serviceAccounts/"+email)
			set("id", "projects/"+p+"/serviceAccounts/"+email)
		}
	case "google_secret_manager_secret":
		if id := str("secret_id"); id != "" {
			set("id", "projects/"+p+"/secrets/"+id)
			set("name", "projects/"+PlaceholderProjectNumber+"/secrets/"+id)
		}
	case "google_cloud_tasks_queue":
		if n := str("name"); n != "" {
			set("id", "projects/"+p+"/locations/"+loc+"/queues/"+n)
		}
	case "google_cloudfunctions2_function":
		if n := str("name"); n != "" {
			svc := strings.ToLower(n)
			set("location", loc)
			set("url", "https://"+svc+"-"+PlaceholderProjectNumber+"."+loc+".run.app")
			set("id", "projects/"+p+"/locations/"+loc+"/functions/"+n)
			attrs["service_config"] = withAttr(attrs["service_config"], "service", "projects/"+p+"/locations/"+loc+"/services/"+svc)
		}
	case "google_firebaserules_ruleset":
		set("name", "ruleset-"+b.Name)
	}
	set("id", b.Addr())
	return cty.ObjectVal(attrs)
}

// withAttr adds name=value to the first object of a tuple of blocks.
func withAttr(blocks cty.Value, name, value string) cty.Value {
	if blocks == cty.NilVal || !blocks.IsKnown() || blocks.IsNull() || !blocks.Type().IsTupleType() || blocks.LengthInt() == 0 {
		return blocks
	}
	elems := blocks.AsValueSlice()
	if !elems[0].IsKnown() || !elems[0].Type().IsObjectType() {
		return blocks
	}
	obj := elems[0].AsValueMap()
	if obj == nil {
		obj = map[string]cty.Value{}
	}
	if _, ok := obj[name]; !ok {
		obj[name] = cty.StringVal(value)
	}
	elems[0] = cty.ObjectVal(obj)
	return cty.TupleVal(elems)
}

// bodyAttrs evaluates a body: arguments (unknown where they cannot be
// evaluated yet) and nested blocks as tuples of objects.
func (m *Module) bodyAttrs(body *hclsyntax.Body) map[string]cty.Value {
	attrs := map[string]cty.Value{}
	for name, a := range body.Attributes {
		v, diags := a.Expr.Value(m.ctx)
		if diags.HasErrors() {
			v = cty.DynamicVal
		}
		attrs[name] = v
	}
	byType := map[string][]cty.Value{}
	var order []string
	for _, nb := range body.Blocks {
		if nb.Type == "lifecycle" || nb.Type == "dynamic" {
			continue
		}
		if _, ok := byType[nb.Type]; !ok {
			order = append(order, nb.Type)
		}
		byType[nb.Type] = append(byType[nb.Type], cty.ObjectVal(m.bodyAttrs(nb.Body)))
	}
	for _, t := range order {
		attrs[t] = cty.TupleVal(byType[t])
	}
	return attrs
}
