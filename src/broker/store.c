#include "broker/store.h"

#include "broker/session.h"

static mqtt_bytes_t id_bytes(const char *id, size_t len)
{
    return (mqtt_bytes_t){(const uint8_t *)id, len};
}

int store_session_save(store_t *st, const session_t *s)
{
    store_session_t rec = {id_bytes(s->client_id, s->id_len), s->expiry_interval,
                           (uint8_t)s->version};
    return st->ops->session_put(st, &rec);
}

int store_session_delete(store_t *st, const char *id, size_t len)
{
    return st->ops->session_delete(st, id_bytes(id, len));
}

int store_out_put(store_t *st, const session_t *s, const session_out_t *e)
{
    store_out_t o = {e->seq,    e->packet_id, e->qos,     e->state,
                     e->retain, e->dup,       e->sub_ids, e->sub_id_count};
    store_msg_t m;
    bool with_msg = e->msg && st->msg_view;
    if (with_msg)
        st->msg_view(e->msg, &m);
    return st->ops->out_put(st, id_bytes(s->client_id, s->id_len), &o, with_msg ? &m : NULL);
}

int store_out_delete(store_t *st, const char *id, size_t len, uint64_t seq)
{
    return st->ops->out_delete(st, id_bytes(id, len), seq);
}

int store_in_put(store_t *st, const char *id, size_t len, uint16_t packet_id)
{
    return st->ops->in_put(st, id_bytes(id, len), packet_id);
}

int store_in_delete(store_t *st, const char *id, size_t len, uint16_t packet_id)
{
    return st->ops->in_delete(st, id_bytes(id, len), packet_id);
}
