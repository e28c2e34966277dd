package redistest

import (
	"bytes"
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
