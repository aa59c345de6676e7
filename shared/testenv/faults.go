package testenv

import (
	"context"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Firestore RPCs a test can make fail (FirestoreFaults.FailNext).
const (
	RPCBatchGet = "/google.firestore.v1.Firestore/BatchGetDocuments"
	RPCRunQuery = "/google.firestore.v1.Firestore/RunQuery"
	RPCCommit   = "/google.firestore.v1.Firestore/Commit"
	RPCBeginTx  = "/google.firestore.v1.Firestore/BeginTransaction"
)

// FirestoreFaults makes chosen RPCs of a client from FaultyFirestore fail,
// as a Firestore outage would: the emulator cannot be made to fail one
// read.
type FirestoreFaults struct {
	mu    sync.Mutex
	plans map[string]*faultPlan
	calls map[string]int
}

type faultPlan struct {
	skip, fail int
	code       codes.Code
}

// FailNext lets the next skip calls of rpc through, then fails the n after
// them with code. The client retries some codes by itself, per RPC, for up
// to minutes (Unavailable, for one): choose one it does not retry for rpc
// (ResourceExhausted for reads, say) to have the caller see the error.
func (f *FirestoreFaults) FailNext(rpc string, skip, n int, code codes.Code) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans[rpc] = &faultPlan{skip: skip, fail: n, code: code}
}

// Calls is how many times rpc was called, failed calls included.
func (f *FirestoreFaults) Calls(rpc string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[rpc]
}

func (f *FirestoreFaults) take(rpc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[rpc]++
	p := f.plans[rpc]
	switch {
	case p == nil || p.fail == 0:
		return nil
	case p.skip > 0:
		p.skip--
		return nil
	}
	p.fail--
	return status.Error(p.code, "testenv: injected fault")
}

// emulatorOwner is what the Firestore client sends the emulator in
// emulator mode: admin access, past the security rules.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

// FaultyFirestore returns a Firestore client of the emulator whose RPCs
// pass through the returned FirestoreFaults.
func (e Env) FaultyFirestore(t testing.TB) (*firestore.Client, *FirestoreFaults) {
	t.Helper()
	f := &FirestoreFaults{plans: map[string]*faultPlan{}, calls: map[string]int{}}
	conn, err := grpc.NewClient(e.FirestoreHost,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if err := f.take(method); err != nil {
				return err
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if err := f.take(method); err != nil {
				return nil, err
			}
			return streamer(ctx, desc, cc, method, opts...)
		}),
	)
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	c, err := firestore.NewClient(context.Background(), e.ProjectID, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatalf("firestore client: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		_ = conn.Close() // given, so perhaps not closed by the client
	})
	return c, f
}
