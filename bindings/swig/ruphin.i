/* SWIG interface over the public header, for languages without a binding of
 * their own. It adds only what SWIG needs to handle the header's idioms:
 * out-pointers (ruphin_node **), byte buffers, and event payloads. See
 * bindings/swig/README.md. */
%module ruphin

%{
#include <stdlib.h>
#include "ruphin.h"
%}

%include <stdint.i>
%include <cpointer.i>
%include <cdata.i>
%include <carrays.i>

/* The export macro means nothing to SWIG. */
#define RUPHIN_API

/* Out-parameters (ruphin_node **, ruphin_options **, ruphin_runner **,
 * int64_t *): new_nodep(), pass it, then nodep_value() and delete_nodep(). */
%pointer_functions(ruphin_node *, nodep);
%pointer_functions(ruphin_options *, optionsp);
%pointer_functions(ruphin_runner *, runnerp);
%pointer_functions(int64_t, int64p);
%pointer_functions(size_t, sizep);

/* The batch calls' arrays: events for ruphin_poll_batch (new_event_array(n),
 * event_array_getitem(a, i), delete_event_array(a)) and the lengths for
 * ruphin_send_batch_string (new_size_array, size_array_setitem, ...). */
%array_functions(ruphin_event, event_array);
%array_functions(size_t, size_array);

/* Its char *buf is an output buffer, which SWIG would take for an input
 * string and let C write past; ruphin_addr_text() below replaces it. */
%ignore ruphin_addr_format;

/* Session ids and payloads are (pointer, length) byte strings. */
%apply (char *STRING, size_t LENGTH) { (const uint8_t *session_id, size_t session_id_len) };
%apply (char *STRING, size_t LENGTH) { (const uint8_t *data, size_t len) };
%apply (char *STRING, size_t LENGTH) { (const uint8_t *payloads, size_t payloads_len) };

%include "ruphin.h"

%newobject ruphin_addr_text;

%inline %{
/* An event's payload as a byte string (cdata would need the length twice). */
SWIGCDATA ruphin_event_payload(const ruphin_event *event) {
    return cdata_void((void *)event->data, (int)event->len);
}

/* ruphin_send_batch with the payloads as one byte string, whose length
 * SWIG passes: the lengths must add up to it (else RUPHIN_ERR_INVALID). */
int32_t ruphin_send_batch_string(ruphin_node *node, const ruphin_addr *to,
                                 const uint8_t *payloads, size_t payloads_len,
                                 const size_t *lens, size_t count, size_t *sent) {
    size_t i, total = 0;
    for (i = 0; lens != NULL && i < count; i++)
        total += lens[i];
    if (lens != NULL && total != payloads_len) {
        if (sent != NULL)
            *sent = 0;
        return RUPHIN_ERR_INVALID;
    }
    return ruphin_send_batch(node, to, payloads, lens, count, sent);
}

/* An address as "host:port" text ("" for none), in a fresh string that
 * SWIG frees once converted (%newobject): no shared buffer between threads. */
char *ruphin_addr_text(const ruphin_addr *addr) {
    char *buf = malloc(RUPHIN_ADDRSTRLEN);
    if (buf != NULL && ruphin_addr_format(addr, buf, RUPHIN_ADDRSTRLEN) < 0)
        buf[0] = '\0';
    return buf;
}
%}
