package backup

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// fakeS3 is a minimal S3 endpoint: single-part PUT, GET, HEAD and DELETE
// of objects, and multipart uploads. It checks every request's AWS
// Signature Version 4 with the secret key it knows.
type fakeS3 struct {
	t       *testing.T
	secret  string
	mu      sync.Mutex
	objects map[string][]byte
	uploads map[string]map[int][]byte
	signed  int
	refused int  // requests refused for a bad signature
	quiet   bool // refusals are expected
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := f.verify(r, body); err != nil {
		f.mu.Lock()
		f.refused++
		f.mu.Unlock()
		if !f.quiet {
			f.t.Errorf("%s %s: %v", r.Method, r.URL, err)
		}
		http.Error(w, `<Error><Code>SignatureDoesNotMatch</Code></Error>`, http.StatusForbidden)
		return
	}
	if r.Header.Get("Content-Encoding") == "aws-chunked" || strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		body = decodeChunked(body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signed++
	key := r.URL.Path
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		id := fmt.Sprintf("up-%d", len(f.uploads)+1)
		f.uploads[id] = map[int][]byte{}
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>`, key, id)
	case r.Method == http.MethodPut && q.Has("uploadId"):
		var n int
		fmt.Sscan(q.Get("partNumber"), &n)
		f.uploads[q.Get("uploadId")][n] = body
		w.Header().Set("ETag", `"etag"`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		parts := f.uploads[q.Get("uploadId")]
		var nums []int
		for n := range parts {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		var all []byte
		for _, n := range nums {
			all = append(all, parts[n]...)
		}
		f.objects[key] = all
		fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>%s</Key><ETag>"etag"</ETag></CompleteMultipartUploadResult>`, key)
	case r.Method == http.MethodPut:
		f.objects[key] = body
		w.Header().Set("ETag", `"etag"`)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		b, ok := f.objects[key]
		if !ok {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			if r.Method == http.MethodGet {
				io.WriteString(w, `<Error><Code>NoSuchKey</Code><Message>no</Message></Error>`)
			}
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Header().Set("ETag", `"etag"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	case r.Method == http.MethodDelete:
		delete(f.objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unsupported", http.StatusNotImplemented)
	}
}

// decodeChunked strips aws-chunked framing ("<hex>;chunk-signature=...\r\n<data>\r\n").
func decodeChunked(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			break
		}
		sz, _, _ := strings.Cut(string(line), ";")
		var n int
		fmt.Sscanf(sz, "%x", &n)
		if n == 0 || n > len(rest) {
			break
		}
		out = append(out, rest[:n]...)
		b = rest[n+2:]
	}
	return out
}

// verify recomputes the SigV4 signature of r (the seed signature for
// streaming uploads) and compares it with the Authorization header.
func (f *fakeS3) verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return fmt.Errorf("authorization %q is not SigV4", auth)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/") // AK/date/region/s3/aws4_request
	if len(cred) != 5 || cred[0] != "AKTEST" {
		return fmt.Errorf("credential %q", fields["Credential"])
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash != "UNSIGNED-PAYLOAD" && !strings.HasPrefix(payloadHash, "STREAMING-") {
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != payloadHash {
			return errors.New("payload hash mismatch")
		}
	}
	var canonHeaders strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canonHeaders.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	q := r.URL.Query()
	var keys []string
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cq []string
	for _, k := range keys {
		for _, v := range q[k] {
			cq = append(cq, escape(k)+"="+escape(v))
		}
	}
	canon := strings.Join([]string{r.Method, r.URL.EscapedPath(), strings.Join(cq, "&"), canonHeaders.String(),
		fields["SignedHeaders"], payloadHash}, "\n")
	ch := sha256.Sum256([]byte(canon))
	scope := strings.Join(cred[1:], "/")
	toSign := "AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	mac := func(k []byte, s string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(s)); return h.Sum(nil) }
	k := mac([]byte("AWS4"+f.secret), cred[1])
	k = mac(k, cred[2])
	k = mac(k, cred[3])
	k = mac(k, "aws4_request")
	if want := hex.EncodeToString(mac(k, toSign)); want != fields["Signature"] {
		return fmt.Errorf("signature %s, want %s", fields["Signature"], want)
	}
	return nil
}

func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func TestS3Storage(t *testing.T) {
	ctx := context.Background()
	fake := &fakeS3{t: t, secret: "sekrit", objects: map[string][]byte{}, uploads: map[string]map[int][]byte{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	st, err := NewS3(S3Config{Endpoint: u.Host, Region: "us-east-1", Bucket: "bkt", Prefix: "hoard/", AccessKey: "AKTEST", SecretKey: "sekrit"})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("artifact "), 5000)
	sum, err := Write(ctx, st, "b1.xbstream.gz", func(w io.Writer) error { _, err := w.Write(data); return err })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.objects["/bkt/hoard/b1.xbstream.gz"]; !ok {
		t.Fatalf("object not stored under the prefix: %v", keysOf(fake.objects))
	}
	if n, err := st.Stat(ctx, "b1.xbstream.gz"); err != nil || n != sum.Size {
		t.Errorf("Stat = %d, %v; want %d", n, err, sum.Size)
	}
	if err := Verify(ctx, st, "b1.xbstream.gz", sum.Checksum); err != nil {
		t.Errorf("Verify = %v", err)
	}
	rc, err := Open(ctx, st, "b1.xbstream.gz")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, want %d", len(got), len(data))
	}
	if loc := st.Location("b1.xbstream.gz"); loc != srv.URL+"/bkt/hoard/b1.xbstream.gz" {
		t.Errorf("Location = %q", loc)
	}
	if k, err := Find(ctx, st, Keys(st, "b1", st.Location("b1.xbstream.gz"), ".tar.gz")); k != "b1.xbstream.gz" || err != nil {
		t.Errorf("Find(Keys(its location)) = %q, %v; want b1.xbstream.gz", k, err)
	}
	if err := st.Delete(ctx, "b1.xbstream.gz"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, "b1.xbstream.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, "b1.xbstream.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if fake.signed == 0 {
		t.Error("no signed request reached the server")
	}
	// A wrong secret is refused by the server's signature check.
	bad, _ := NewS3(S3Config{Endpoint: u.Host, Region: "us-east-1", Bucket: "bkt", AccessKey: "AKTEST", SecretKey: "wrong"})
	fake.quiet = true
	if _, err := bad.Put(ctx, "x", strings.NewReader("x")); err == nil || fake.refused == 0 {
		t.Errorf("Put with a wrong secret = %v (%d refused), want a signature refusal", err, fake.refused)
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
