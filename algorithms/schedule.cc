#include "algorithms/schedule.h"

namespace prism {

const char* stepKindName(StepKind k) {
  switch (k) {
    case StepKind::Copy:
      return "Copy";
    case StepKind::Send:
      return "Send";
    case StepKind::Recv:
      return "Recv";
    case StepKind::RecvReduce:
      return "RecvReduce";
    case StepKind::RecvSend:
      return "RecvSend";
    case StepKind::RecvReduceSend:
      return "RecvReduceSend";
    case StepKind::SendRecv:
      return "SendRecv";
    case StepKind::SendRecvReduce:
      return "SendRecvReduce";
  }
  return "Unknown";
}

bool stepSends(StepKind k) {
  return k == StepKind::Send || k == StepKind::RecvSend || k == StepKind::RecvReduceSend ||
         k == StepKind::SendRecv || k == StepKind::SendRecvReduce;
}

bool stepReceives(StepKind k) { return k != StepKind::Copy && k != StepKind::Send; }

bool stepReduces(StepKind k) {
  return k == StepKind::RecvReduce || k == StepKind::RecvReduceSend ||
         k == StepKind::SendRecvReduce;
}

}  // namespace prism
