package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fnProcess is a running function binary, in a process group of its own.
type fnProcess struct {
	Name    string
	PID     int
	URL     string // http://127.0.0.1:PORT/
	Started time.Time
	// Listening is how long after exec the port accepted connections.
	Listening time.Duration

	addr   string
	cmd    *exec.Cmd
	logs   *headTail
	exited chan struct{}
	waitMu sync.Mutex
	err    error
	once   sync.Once
}

// startFunction execs bin with env (a map, made into a minimal
// environment: nothing is inherited but PATH and HOME) on a free port, and
// waits until it listens. The caller must call stop.
func startFunction(ctx context.Context, name, bin string, env map[string]string) (*fnProcess, error) {
	// Not the port its profile server listens on (BENCH_PPROF_ADDR), if any.
	var avoid []int
	if _, p, err := net.SplitHostPort(env["BENCH_PPROF_ADDR"]); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			avoid = append(avoid, n)
		}
	}
	port, err := freePort(avoid...)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	full := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"),
		"PORT": strconv.Itoa(port), "FUNCTION_TARGET": name, "LOCAL_ONLY": "true",
	}
	for k, v := range env {
		full[k] = v
	}
	keys := make([]string, 0, len(full))
	for k := range full {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cmd := exec.Command(bin)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+full[k])
	}
	// Its own process group, so stop kills whatever it started; and killed
	// should the benchmark die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logs := &headTail{}
	cmd.Stdout, cmd.Stderr = logs, logs
	p := &fnProcess{Name: name, URL: "http://" + addr + "/", addr: addr, cmd: cmd, logs: logs, exited: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.PID = cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		p.waitMu.Lock()
		p.err = err
		p.waitMu.Unlock()
		close(p.exited)
	}()
	if err := p.waitListening(ctx, 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitListening polls the port every millisecond until it accepts a
// connection.
func (p *fnProcess) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := p.Started.Add(timeout)
	d := net.Dialer{Timeout: 100 * time.Millisecond}
	for {
		c, err := d.DialContext(ctx, "tcp", p.addr)
		if err == nil {
			p.Listening = time.Since(p.Started)
			_ = c.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before listening: %v\n%s", p.Name, p.exitErr(), p.logs.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen within %s\n%s", p.Name, timeout, p.logs.String())
		}
	}
}

func (p *fnProcess) exitErr() error {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return p.err
}

// alive reports whether the process still runs.
func (p *fnProcess) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited: %v\n%s", p.Name, p.exitErr(), p.logs.String())
	default:
		return nil
	}
}

// stop kills the process group and waits for the process. It is safe to
// call more than once.
func (p *fnProcess) stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

// freePort returns a port nothing listens on, other than those in avoid
// (picked before and not yet listened on: two picks one after the other
// may return the same port).
func freePort(avoid ...int) (int, error) {
	for range 16 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !slices.Contains(avoid, port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port other than %v", avoid)
}

// headTail keeps the first 64 KiB and the last 16 KiB written to it (a
// function's logs, for error messages and the init trace), the first
// maxErrorLines log lines of severity ERROR in between (a load's first
// failure is usually neither the first nor the last thing logged), and
// counts the bytes.
type headTail struct {
	mu         sync.Mutex
	head, tail []byte
	n          int64
	partial    []byte   // the last line, until its newline comes
	errors     []string // ERROR lines from past the head
}

const (
	headMax       = 64 << 10
	tailMax       = 16 << 10
	maxErrorLines = 20
	maxLineBytes  = 4 << 10
)

var errorSeverity = []byte(`"severity":"ERROR"`)

func (h *headTail) Write(b []byte) (int, error) {
	n := len(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n += int64(n)
	if room := headMax - len(h.head); room > 0 {
		k := min(room, len(b))
		h.head = append(h.head, b[:k]...)
		b = b[k:]
	}
	if len(b) > 0 {
		h.keepErrors(b)
		h.tail = append(h.tail, b...)
		if over := len(h.tail) - tailMax; over > 0 {
			h.tail = append(h.tail[:0], h.tail[over:]...)
		}
	}
	return n, nil
}

// keepErrors collects the ERROR lines of b (past the head), each cut to
// maxLineBytes, until it has maxErrorLines.
func (h *headTail) keepErrors(b []byte) {
	if len(h.errors) >= maxErrorLines {
		return
	}
	h.partial = append(h.partial, b...)
	rest := h.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if line := rest[:i]; bytes.Contains(line, errorSeverity) && len(h.errors) < maxErrorLines {
			h.errors = append(h.errors, string(line[:min(len(line), maxLineBytes)]))
		}
		rest = rest[i+1:]
	}
	if len(rest) > maxLineBytes { // a line too long to be a log entry's
		rest = nil
	}
	// The unfinished line moves to the front, in place.
	h.partial = h.partial[:copy(h.partial, rest)]
}

func (h *headTail) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.tail) == 0 {
		return string(h.head)
	}
	var errs string
	if len(h.errors) > 0 {
		errs = fmt.Sprintf("\n[...; the first %d errors logged after that:]\n%s", len(h.errors), strings.Join(h.errors, "\n"))
	}
	return string(h.head) + errs + "\n[...]\n" + string(h.tail)
}

// Bytes is how much was written in all.
func (h *headTail) Bytes() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}
