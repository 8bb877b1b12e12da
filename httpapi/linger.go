package httpapi

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/valyala/fasthttp"
)

// Bounds of the lingering close after a refused body: the server reads and discards up to
// lingerBytes of what the client is still sending, for at most lingerTime, as net/http does, so
// that the client reads its 413 instead of a connection reset. A client sending more or slower
// than that is cut off.
const (
	lingerBytes = 4 << 20
	lingerTime  = 3 * time.Second
)

// lingerOnTooLarge wraps the fasthttp server's error handler (which answers in the envelope
// through fiber) so that a body over the limit gets its answer while the client is still sending:
// fasthttp refuses such a request before reading its body and closes the connection at once, and
// a close with unread data resets the connection, losing the answer on the client's side. Here the
// answer is written and the sending side closed (the client sees the answer and the end), then
// the rest of the body is read and discarded within the bounds above. fasthttp's own write of the
// answer that follows fails on the closed side and is dropped.
func lingerOnTooLarge(next func(*fasthttp.RequestCtx, error)) func(*fasthttp.RequestCtx, error) {
	return func(ctx *fasthttp.RequestCtx, err error) {
		next(ctx, err)
		if !errors.Is(err, fasthttp.ErrBodyTooLarge) {
			return
		}
		conn := ctx.Conn()
		half, ok := conn.(interface{ CloseWrite() error })
		if !ok {
			return // not TCP (fiber's in-memory test connections): nothing to linger on
		}
		ctx.SetConnectionClose()
		w := bufio.NewWriter(conn)
		if ctx.Response.Write(w) != nil || w.Flush() != nil || half.CloseWrite() != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, conn, lingerBytes)
	}
}
