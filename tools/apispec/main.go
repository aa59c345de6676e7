// Command apispec keeps api/openapi.yaml, the functions' HTTP contract,
// true and in use:
//
//	go run ./tools/apispec lint                 lint the spec: OpenAPI 3.1, every $ref resolves, examples valid
//	go run ./tools/apispec gen-readme [-check]  write the README's tables generated from the spec;
//	                                            -check only reports the stale ones (exit 1)
//	go run ./tools/apispec coverage DIR         fail when an operation of the spec has no exchange
//	                                            recorded in DIR by the tests (shared/testenv/apicheck,
//	                                            THREADSFN_API_COVERAGE_DIR)
//
// Its tests (go test ./tools/apispec) run the lint and the README check,
// and fail when an error code of the Go sources is missing from the spec.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apispec:", err)
		os.Exit(1)
	}
}

const usage = `usage: go run ./tools/apispec [-root DIR] <command>

  lint                 lint api/openapi.yaml (OpenAPI 3.1, $refs, examples)
  gen-readme [-check]  write the README's generated sections; -check reports stale ones
  coverage DIR         fail when an operation of the spec has no exchange recorded in DIR`

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("apispec", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rootFlag := fs.String("root", "", "the repository root (default: the directory holding go.work above the working directory)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() == 0 {
		return errors.New(usage)
	}
	root := *rootFlag
	if root == "" {
		r, err := RepoRoot(".")
		if err != nil {
			return err
		}
		root = r
	}
	spec, err := LoadSpec(ctx, filepath.Join(root, SpecPath))
	if err != nil {
		return err
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "lint":
		if len(rest) != 0 {
			return errors.New(usage)
		}
		if err := spec.Validate(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: valid OpenAPI %s, %d operations\n", SpecPath, spec.Doc.OpenAPI, len(spec.Operations()))
		return nil
	case "gen-readme":
		gfs := flag.NewFlagSet("gen-readme", flag.ContinueOnError)
		gfs.SetOutput(io.Discard)
		check := gfs.Bool("check", false, "report stale sections instead of writing them")
		if err := gfs.Parse(rest); err != nil || gfs.NArg() != 0 {
			return errors.New(usage)
		}
		return genREADME(spec, filepath.Join(root, "README.md"), *check, out)
	case "coverage":
		if len(rest) != 1 {
			return errors.New(usage)
		}
		ex, err := ReadCoverage(rest[0])
		if err != nil {
			return err
		}
		if len(ex) == 0 {
			return fmt.Errorf("coverage: no exchanges recorded in %s (was THREADSFN_API_COVERAGE_DIR set for go test?)", rest[0])
		}
		r := spec.Coverage(ex)
		fmt.Fprint(out, r)
		if len(r.Missing) > 0 {
			return fmt.Errorf("coverage: %d operation(s) of %s exercised by no test: %s", len(r.Missing), SpecPath, strings.Join(r.Missing, ", "))
		}
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// ErrStale reports README sections that differ from what the spec says.
var ErrStale = errors.New("README is stale")

func genREADME(spec *Spec, path string, check bool, out io.Writer) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read README: %w", err)
	}
	sections, err := spec.Sections()
	if err != nil {
		return err
	}
	updated, stale, err := UpdateREADME(string(raw), sections)
	if err != nil {
		return err
	}
	if check {
		if len(stale) > 0 {
			return fmt.Errorf("%w: generated section(s) %s differ from %s; run: go run ./tools/apispec gen-readme", ErrStale, strings.Join(stale, ", "), SpecPath)
		}
		fmt.Fprintln(out, "README: generated sections up to date")
		return nil
	}
	if len(stale) == 0 {
		fmt.Fprintln(out, "README: generated sections already up to date")
		return nil
	}
	if err := os.WriteFile(path, []byte(updated), 0o644); err != nil {
		return fmt.Errorf("write README: %w", err)
	}
	fmt.Fprintf(out, "README: rewrote %s\n", strings.Join(stale, ", "))
	return nil
}
