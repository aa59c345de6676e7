package deploycheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// FormatProblems parses every Terraform file of dir (*.tf, *.tfvars,
// *.tfvars.example) and compares it with hclwrite.Format's output, the
// canonical layout `terraform fmt` / `tofu fmt` also produce. It returns one
// error per file that does not parse or is not formatted, with a diff.
func FormatProblems(dir string) ([]error, error) {
	var paths []string
	for _, pat := range []string{"*.tf", "*.tfvars", "*.tfvars.example"} {
		ps, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		paths = append(paths, ps...)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no Terraform files in %s", dir)
	}
	sort.Strings(paths)
	var problems []error
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(p)
		if _, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
			problems = append(problems, fmt.Errorf("%s does not parse: %s", name, diags.Error()))
			continue
		}
		if want := hclwrite.Format(src); !bytes.Equal(src, want) {
			problems = append(problems, fmt.Errorf("%s is not formatted (run `tofu fmt` or `terraform fmt` in terraform/); want:\n%s",
				name, LineDiff(string(src), string(want))))
		}
	}
	return problems, nil
}

// LineDiff returns a minimal line diff of a → b: "-" lines only in a, "+"
// lines only in b, with up to two lines of context around each change.
func LineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j]: length of the longest common subsequence of x[i:], y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
		num  int // line number in a (or b for '+')
	}
	var ops []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, line{' ', x[i], i + 1})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, line{'+', y[j], j + 1})
			j++
		default:
			ops = append(ops, line{'-', x[i], i + 1})
			i++
		}
	}
	const context = 2
	keep := make([]bool, len(ops))
	for k, op := range ops {
		if op.op != ' ' {
			for c := max(0, k-context); c <= min(len(ops)-1, k+context); c++ {
				keep[c] = true
			}
		}
	}
	var sb strings.Builder
	gap := false
	for k, op := range ops {
		if !keep[k] {
			gap = true
			continue
		}
		if gap && sb.Len() > 0 {
			sb.WriteString("  ...\n")
		}
		gap = false
		fmt.Fprintf(&sb, "%c %4d | %s\n", op.op, op.num, op.text)
	}
	return sb.String()
}
