package deploycheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// GoFunction is one function module under functions/, as its source says.
type GoFunction struct {
	Dir        string // absolute
	DirName    string // e.g. thauthstart
	Module     string // module path
	GoVersion  string // go directive of its go.mod, e.g. 1.26.8
	EntryPoint string // the name given to functions.HTTP / functions.CloudEvent
}

// FindGoFunctions reads every functions/<dir>/ that holds a go.mod and finds
// the entry point its package registers: functions.HTTP(Name, …) with
// `const Name = "…"` (or a string literal). Exactly one registration per
// function is expected.
func FindGoFunctions(functionsDir string) ([]GoFunction, error) {
	entries, err := os.ReadDir(functionsDir)
	if err != nil {
		return nil, err
	}
	var out []GoFunction
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(functionsDir, e.Name())
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return nil, err
		}
		mf, err := modfile.ParseLax(filepath.Join(dir, "go.mod"), gomod, nil)
		if err != nil {
			return nil, err
		}
		f := GoFunction{Dir: dir, DirName: e.Name()}
		if mf.Module != nil {
			f.Module = mf.Module.Mod.Path
		}
		if mf.Go != nil {
			f.GoVersion = mf.Go.Version
		}
		names, err := registeredNames(dir)
		if err != nil {
			return nil, fmt.Errorf("functions/%s: %w", e.Name(), err)
		}
		if len(names) != 1 {
			return nil, fmt.Errorf("functions/%s registers %d entry points (%s), want exactly 1", e.Name(), len(names), strings.Join(names, ", "))
		}
		f.EntryPoint = names[0]
		out = append(out, f)
	}
	return out, nil
}

// registeredNames parses the package's non-test files and returns the first
// argument of every functions.HTTP / functions.CloudEvent call, resolved
// through package-level string constants.
func registeredNames(dir string) ([]string, error) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	consts := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if s, ok := stringLit(vs.Values[i]); ok {
							consts[n.Name] = s
						}
					}
				}
			}
		}
	}
	var names []string
	var problems []string
	for _, f := range files {
		pkgName := importName(f, "github.com/GoogleCloudPlatform/functions-framework-go/functions")
		if pkgName == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HTTP" && sel.Sel.Name != "CloudEvent") {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != pkgName || len(call.Args) == 0 {
				return true
			}
			switch a := call.Args[0].(type) {
			case *ast.Ident:
				if v, ok := consts[a.Name]; ok {
					names = append(names, v)
				} else {
					problems = append(problems, fmt.Sprintf("%s: %s is not a package-level string constant", fset.Position(a.Pos()), a.Name))
				}
			default:
				if v, ok := stringLit(a); ok {
					names = append(names, v)
				} else {
					problems = append(problems, fmt.Sprintf("%s: entry point is not a constant", fset.Position(a.Pos())))
				}
			}
			return true
		})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	sort.Strings(names)
	return names, nil
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// importName returns the name under which f imports path ("" if it does not).
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return filepath.Base(path)
	}
	return ""
}
