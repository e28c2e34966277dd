package hooks

import "fmt"

// fitPool is Attach's check of the Limiter against a client whose pool
// holds pool connections per node (0: not known): MaxInFlight must not be
// above it. With bind, a Limiter that fits keeps pool as a bound for
// SetLimits, in the same step, so that no SetLimits can come between the
// check and the bound. (Attach binds only when every hook fits; should it
// still refuse afterwards, a Ring with a shard down, the bound stays: it is
// stricter than needed, never looser.)
func (l *Limiter) fitPool(pool int, bind bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	maxIn := l.lim.limits.MaxInFlight
	if pool <= 0 {
		return nil
	}
	if maxIn > pool {
		return fmt.Errorf("hooks: Attach: Limiter with MaxInFlight %d on a client with PoolSize %d per node: %s",
			maxIn, pool, pastPool(pool, maxIn))
	}
	if bind && (l.pool == 0 || pool < l.pool) {
		l.pool = pool
	}
	return nil
}

// pastPool says why a MaxInFlight of maxIn does not fit a pool of pool
// connections, and what to set.
func pastPool(pool, maxIn int) string {
	return fmt.Sprintf("commands past the pool would queue in go-redis's pool, out of the Limiter's reach; "+
		"set MaxInFlight to at most %d or PoolSize to at least %d", pool, maxIn)
}
