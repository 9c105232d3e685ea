// A holepuncher, a server and a client on loopback, from Java through the
// SWIG-generated binding: the client sends a datagram, the server echoes it.
// Usage: java -cp CLASSES Loopback path/to/libruphin_jni.so
import ruphin.SWIGTYPE_p_p_ruphin_node;
import ruphin.SWIGTYPE_p_ruphin_node;
import ruphin.ruphin_addr;
import ruphin.ruphin_event;
import ruphin.ruphin_event_type;

import static ruphin.ruphin.*;

public class Loopback {
    static void check(int rc, String what) {
        if (rc < 0) throw new RuntimeException(what + ": " + ruphin_strerror(rc));
    }

    interface Create { int call(SWIGTYPE_p_p_ruphin_node out); }

    static SWIGTYPE_p_ruphin_node create(String what, Create create) {
        SWIGTYPE_p_p_ruphin_node out = new_nodep();
        try {
            check(create.call(out), what);
            return nodep_value(out);
        } finally {
            delete_nodep(out);
        }
    }

    public static void main(String[] args) {
        System.load(args[0]);
        final SWIGTYPE_p_ruphin_node hp = create("holepuncher",
            out -> ruphin_holepuncher_new(out, "127.0.0.1:0", null));
        ruphin_addr addr = new ruphin_addr();
        check(ruphin_local_addr(hp, addr), "local_addr");
        final String hpText = ruphin_addr_text(addr);
        final byte[] session = "java".getBytes();
        SWIGTYPE_p_ruphin_node server = create("server",
            out -> ruphin_server_new(out, hpText, session, null, null));
        SWIGTYPE_p_ruphin_node client = null;
        ruphin_event ev = new ruphin_event();
        String echoed = null;
        long deadline = System.currentTimeMillis() + 5000;
        while (echoed == null && System.currentTimeMillis() < deadline) {
            while (ruphin_poll(hp, 0, ev) == 1) { }
            while (ruphin_poll(server, 0, ev) == 1) {
                if (ev.getType() == ruphin_event_type.RUPHIN_EVENT_REGISTERED.swigValue()
                        && client == null) {
                    client = create("client", out -> ruphin_client_new(out, hpText, session,
                                                                          null, null));
                } else if (ev.getType() == ruphin_event_type.RUPHIN_EVENT_DATA.swigValue()) {
                    check(ruphin_send(server, ev.getPeer(), ruphin_event_payload(ev)), "echo");
                }
            }
            while (client != null && ruphin_poll(client, 0, ev) == 1) {
                System.out.println("client " + ruphin_event_name(ev.getType()) + " "
                                   + ruphin_addr_text(ev.getPeer()));
                if (ev.getType() == ruphin_event_type.RUPHIN_EVENT_CONNECTED.swigValue()) {
                    check(ruphin_send(client, null, "hello from java".getBytes()), "send");
                } else if (ev.getType() == ruphin_event_type.RUPHIN_EVENT_DATA.swigValue()) {
                    echoed = new String(ruphin_event_payload(ev));
                }
            }
            ruphin_poll(hp, 1, ev); // a millisecond's pause that still serves the holepuncher
        }
        ruphin_close(client);
        ruphin_close(server);
        ruphin_close(hp);
        if (!"hello from java".equals(echoed)) {
            System.out.println("no echo");
            System.exit(1);
        }
        System.out.println("echo: " + echoed);
    }
}
