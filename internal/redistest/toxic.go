package redistest

import (
	"bytes"
	"math/rand/v2"
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

func init() {
	toxics.Register("redistest_integer_latency", new(integerLatencyToxic))
}

// integerLatencyToxic delays the chunks of a reply stream that start with
// an integer reply (":") or hold a transaction's "+QUEUED", and passes
// everything else at once. Used downstream it slows INCR, RPUSH, DEL ...
// replies and MULTI/EXEC blocks while handshakes (HELLO maps, +OK) and
// topology queries (CLUSTER SLOTS arrays) stay fast, so a client keeps its
// connections and slot map while its writes time out.
type integerLatencyToxic struct {
	// Latency in milliseconds.
	Latency int64 `json:"latency"`
}

func (t *integerLatencyToxic) Pipe(stub *toxics.ToxicStub) {
	delay := time.Duration(t.Latency) * time.Millisecond
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if len(c.Data) > 0 && c.Data[0] == ':' || bytes.Contains(c.Data, []byte("+QUEUED\r\n")) {
				timer := time.NewTimer(delay - time.Since(c.Timestamp))
				select {
				case <-timer.C:
				case <-stub.Interrupt:
					timer.Stop()
					stub.Output <- c
					return
				}
			}
			stub.Output <- c
		}
	}
}

// DelayIntegerReplies delays every reply chunk that starts with an integer
// reply or holds a MULTI/EXEC's replies by latency, and nothing else: the
// replies of INCR, RPUSH, DEL and the like, pipelined or in a transaction,
// arrive late, while handshakes and CLUSTER SLOTS do not. It returns the toxic's name for RemoveToxic.
func (p *Proxy) DelayIntegerReplies(latency time.Duration) string {
	p.help()
	return p.add("redistest_integer_latency", "downstream", map[string]any{"latency": latency.Milliseconds()})
}

func init() {
	toxics.Register("redistest_cut", new(cutToxic))
}

// cutToxic closes the connection instead of passing a chunk: every chunk
// that starts with Prefix (every chunk when Prefix is empty) and not with
// Spare (when set), with probability Share. The chunk is dropped; a
// downstream cut thus loses a reply whose command ran.
type cutToxic struct {
	Share  float64 `json:"share"`
	Prefix string  `json:"prefix"`
	Spare  string  `json:"spare"`
}

func (t *cutToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if bytes.HasPrefix(c.Data, []byte(t.Prefix)) && (t.Spare == "" || !bytes.HasPrefix(c.Data, []byte(t.Spare))) &&
				rand.Float64() < t.Share {
				stub.Close()
				return
			}
			stub.Output <- c
		}
	}
}

// CutReplies makes the proxy lose replies: each chunk of replies, with
// probability share, is dropped and its connection closed. The commands
// ran on the server; the client sees its connection closed (EOF) and
// cannot tell whether they did. A chunk that starts with a RESP3 map, as
// the reply to a new connection's HELLO does, passes: connections are set
// up, and then lost with the replies to their commands. It returns the
// toxic's name for RemoveToxic.
func (p *Proxy) CutReplies(share float64) string {
	p.help()
	if share < 0 || share > 1 {
		p.fail("redistest: CutReplies share %g is not in [0, 1]", share)
	}
	return p.add("redistest_cut", "downstream", map[string]any{"share": share, "spare": "%"})
}

// CutIntegerReplies makes the proxy lose every integer reply (EXISTS,
// INCR, DEL ...): the chunk is dropped and its connection closed, after
// the command ran. Other replies (handshakes, GET, CLUSTER SLOTS) pass, so
// each such command fails and nothing else does. It returns the toxic's
// name for RemoveToxic.
func (p *Proxy) CutIntegerReplies() string {
	p.help()
	return p.add("redistest_cut", "downstream", map[string]any{"share": 1, "prefix": ":"})
}
