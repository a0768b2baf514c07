package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
)

// Limits on what readReply accepts from a server.
const (
	maxLine  = 64 << 10
	maxBulk  = 16 << 20
	maxArray = 1 << 16
	maxDepth = 8
)

// errProtocol marks a reply that is not valid RESP.
var errProtocol = errors.New("redis: protocol error")

// replyError is an error reply ("-ERR ...", "-NOAUTH ...").
type replyError struct{ msg string }

func (e *replyError) Error() string { return "redis: " + e.msg }

// code is the error's first word, e.g. "NOAUTH", "WRONGPASS", "LOADING".
func (e *replyError) code() string {
	c, _, _ := strings.Cut(e.msg, " ")
	return c
}

// errCode returns the code of a reply error in err's chain ("" if none).
func errCode(err error) string {
	var re *replyError
	if errors.As(err, &re) {
		return re.code()
	}
	return ""
}

// readReply reads one RESP2 reply: a string (simple or bulk; nil for a
// null bulk), int64, []any, or a *replyError returned as the error.
func readReply(r *bufio.Reader) (any, error) { return readReplyDepth(r, 0) }

func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", fmt.Errorf("%w: line too long", errProtocol)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

func readReplyDepth(r *bufio.Reader, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested too deep", errProtocol)
	}
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if line == "" {
		return nil, fmt.Errorf("%w: empty line", errProtocol)
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, &replyError{msg: body}
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bad integer", errProtocol)
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > maxBulk {
			return nil, fmt.Errorf("%w: bad bulk length", errProtocol)
		}
		if n == -1 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return nil, fmt.Errorf("%w: bulk not terminated", errProtocol)
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > maxArray {
			return nil, fmt.Errorf("%w: bad array length", errProtocol)
		}
		if n == -1 {
			return nil, nil
		}
		out := make([]any, 0, min(n, 64))
		for range n {
			v, err := readReplyDepth(r, depth+1)
			var re *replyError
			if err != nil && !errors.As(err, &re) {
				return nil, err
			}
			if re != nil {
				out = append(out, re)
				continue
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown reply type %q", errProtocol, line[0])
}

// appendCommand encodes args as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// client is one connection to a server.
type client struct {
	conn net.Conn
	r    *bufio.Reader
	io   time.Duration
}

// dial connects over c.Socket when set, else TCP to c.Address:c.Port.
func dial(ctx context.Context, c datastore.Conn, dialTimeout, ioTimeout time.Duration) (*client, error) {
	d := net.Dialer{Timeout: dialTimeout}
	network, addr := "tcp", net.JoinHostPort(c.Address, strconv.Itoa(c.Port))
	if c.Socket != "" {
		network, addr = "unix", c.Socket
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("redis: connect to %s: %w", addr, err)
	}
	cl := &client{conn: conn, r: bufio.NewReader(conn), io: ioTimeout}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return cl, nil
}

func (cl *client) Close() error { return cl.conn.Close() }

// do sends one command and reads its reply. Errors carry the command's
// name only, never its arguments (which may hold passwords).
func (cl *client) do(ctx context.Context, args ...string) (any, error) {
	deadline := time.Now().Add(cl.io)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := cl.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if _, err := cl.conn.Write(appendCommand(nil, args...)); err != nil {
		return nil, fmt.Errorf("redis: %s: %w", strings.ToUpper(args[0]), err)
	}
	v, err := readReply(cl.r)
	if err != nil {
		return nil, fmt.Errorf("redis: %s: %w", strings.ToUpper(args[0]), err)
	}
	return v, nil
}
