package main

import (
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rpcCounter is a TCP proxy in front of a gRPC server (the Firestore
// emulator) that counts the RPCs going through it by method. It forwards
// bytes untouched and reads a copy of what clients send: the HTTP/2
// connection preface, then frames, decoding each request's headers (HPACK)
// to find its :path, /google.firestore.v1.Firestore/<Method>.
type rpcCounter struct {
	lis    net.Listener
	target string

	mu       sync.Mutex
	counts   map[string]int
	conns    map[net.Conn]struct{}
	parseErr int
	wg       sync.WaitGroup
}

func startRPCCounter(target string) (*rpcCounter, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &rpcCounter{lis: lis, target: target, counts: map[string]int{}, conns: map[net.Conn]struct{}{}}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Addr is host:port to give clients instead of the target's.
func (c *rpcCounter) Addr() string { return c.lis.Addr().String() }

func (c *rpcCounter) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.lis.Accept()
		if err != nil {
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.proxy(conn)
		}()
	}
}

func (c *rpcCounter) track(conn net.Conn, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.conns[conn] = struct{}{}
	} else {
		delete(c.conns, conn)
	}
}

func (c *rpcCounter) proxy(client net.Conn) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", c.target, 10*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	c.track(client, true)
	c.track(server, true)
	defer c.track(client, false)
	defer c.track(server, false)

	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(client, server)
		_ = client.Close()
	}()
	pr, pw := io.Pipe()
	parsed := make(chan struct{})
	go func() {
		defer close(parsed)
		if err := c.parse(pr); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
			c.mu.Lock()
			c.parseErr++
			c.mu.Unlock()
		}
		// Keep forwarding whatever the parser made of it.
		_, _ = io.Copy(io.Discard, pr)
	}()
	_, _ = io.Copy(io.MultiWriter(server, pw), client)
	_ = pw.Close()
	_ = server.Close()
	<-parsed
	<-done
}

func (c *rpcCounter) parse(r io.Reader) error {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(r, preface); err != nil {
		return err
	}
	if string(preface) != http2.ClientPreface {
		return errors.New("not an HTTP/2 connection")
	}
	fr := http2.NewFramer(nil, r)
	fr.SetMaxReadFrameSize(1<<24 - 1)
	fr.ReadMetaHeaders = hpack.NewDecoder(1<<16, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		if mh, ok := f.(*http2.MetaHeadersFrame); ok {
			if p := mh.PseudoValue("path"); p != "" {
				c.mu.Lock()
				c.counts[path.Base(p)]++
				c.mu.Unlock()
			}
		}
	}
}

// Snapshot returns the counts so far.
func (c *rpcCounter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// ParseErrors is how many connections could not be followed (their RPCs
// were forwarded but not counted).
func (c *rpcCounter) ParseErrors() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parseErr
}

func (c *rpcCounter) close() {
	_ = c.lis.Close()
	c.mu.Lock()
	for conn := range c.conns {
		_ = conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// httpCounter is a reverse proxy in front of an HTTP server (the Auth
// emulator) that counts requests by method and last path element, and the
// connections clients open.
type httpCounter struct {
	countedServer
	lis    net.Listener
	mu     sync.Mutex
	counts map[string]int
}

func startHTTPCounter(target string) (*httpCounter, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "http", Host: target}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	h := &httpCounter{lis: lis, counts: map[string]int{}}
	h.serve(lis, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		if i := strings.LastIndex(r.URL.Path, "/accounts"); i >= 0 {
			name = r.URL.Path[i+1:]
		}
		h.mu.Lock()
		h.counts[r.Method+" "+name]++
		h.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	return h, nil
}

func (h *httpCounter) Addr() string { return h.lis.Addr().String() }

func (h *httpCounter) Snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.counts)
}

// diffCounts is b-a for every key of b with a positive difference.
func diffCounts(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range b {
		if d := v - a[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
