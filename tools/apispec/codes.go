package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// GoConst is a string constant declared in the Go sources.
type GoConst struct {
	Name  string
	Value string
	Pos   string // file:line, relative to the root
}

// skipDir reports directories that hold no source of the product.
func skipDir(name string) bool {
	switch name {
	case "vendor", "testdata", "node_modules", "dist":
		return true
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// eachGoFile parses every non-test Go file under root/dirs and calls fn
// with it and its path.
func eachGoFile(root string, dirs []string, fset *token.FileSet, fn func(path string, f *ast.File) error) error {
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if path != filepath.Join(root, d) && skipDir(e.Name()) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return fmt.Errorf("parse: %w", err)
			}
			return fn(path, f)
		})
		if err != nil {
			return fmt.Errorf("scan %s: %w", d, err)
		}
	}
	return nil
}

// FindStringConsts parses every non-test Go file under root/dirs and
// returns the string constants whose names start with prefix. When
// onlyDirs is set, only files in those directories (relative to root) count.
func FindStringConsts(root string, dirs []string, prefix string) ([]GoConst, error) {
	var out []GoConst
	fset := token.NewFileSet()
	err := eachGoFile(root, dirs, fset, func(path string, f *ast.File) error {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						return fmt.Errorf("%s: %w", name.Name, err)
					}
					rel, _ := filepath.Rel(root, path)
					out = append(out, GoConst{Name: name.Name, Value: v, Pos: fmt.Sprintf("%s:%d", filepath.ToSlash(rel), fset.Position(name.Pos()).Line)})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pos < out[j].Pos })
	return out, nil
}

// IdentUses counts, in the non-test Go files under root/dirs, the uses of
// an identifier (as a name or a selector) other than its declarations.
func IdentUses(root string, dirs []string, name string) (int, error) {
	n := 0
	err := eachGoFile(root, dirs, token.NewFileSet(), func(_ string, f *ast.File) error {
		declared := map[*ast.Ident]bool{}
		ast.Inspect(f, func(node ast.Node) bool {
			if vs, ok := node.(*ast.ValueSpec); ok {
				for _, id := range vs.Names {
					declared[id] = true
				}
			}
			return true
		})
		ast.Inspect(f, func(node ast.Node) bool {
			if id, ok := node.(*ast.Ident); ok && id.Name == name && !declared[id] {
				n++
			}
			return true
		})
		return nil
	})
	return n, err
}
