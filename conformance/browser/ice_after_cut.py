#!/usr/bin/env python3
"""ICE disconnected (and connectionState failed) after each cut of the path, in recorded runs:
   python3 conformance/browser/ice_after_cut.py DIR...  (DIR: an OUT of play.sh)"""
import json, sys, os
for d in sys.argv[1:]:
    for name, cut_action, peers in [("dcep-ack-lost","hold","ab"),("transient-disconnect","partition","ab"),("ice-restart","partition","ab"),("pc-close-with-open-channels","close_peer","b")]:
        p=f"{d}/{name}.jsonl"
        if not os.path.exists(p): continue
        ev=[json.loads(l) for l in open(p)]
        cut=next(e["t_ms"] for e in ev if e.get("action")==cut_action)
        out=[]
        for peer in peers:
            disc=next((e["t_ms"] for e in ev if e.get("peer")==peer and e.get("machine")=="ice_connection" and e.get("to")=="disconnected" and e["t_ms"]>=cut),None)
            fail=next((e["t_ms"] for e in ev if e.get("peer")==peer and e.get("machine")=="peer_connection" and e.get("to")=="failed"),None)
            out.append(f"{peer}: disc +{disc-cut if disc else None} failed-disc {fail-disc if fail and disc else None}")
        print(d, name, "cut", cut, "|", "; ".join(out))
