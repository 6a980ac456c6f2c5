// Right after a completed session the learner is asked to rate it, on the room page, through
// the rating endpoint (POST /api/bookings/<id>/rating/: its rule decides, this only asks).
import { api } from "../api.js";
import { $, config } from "./state.js";

const form = $("[data-rate-form]");
const error = $("[data-rate-error]");
const thanks = $("[data-rate-thanks]");

/** Offer the rating form (the learner, once the session ended as "completed"). */
export function offerRating(status) {
  if (!form || !config.isLearner || status !== "completed") return;
  form.hidden = false;
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  error.hidden = true;
  try {
    const rating = await api(`/api/bookings/${config.bookingId}/rating/`, {
      method: "POST",
      body: { stars: Number(data.get("stars")), feedback: data.get("feedback") || "" },
    });
    form.hidden = true;
    thanks.hidden = false;
    thanks.textContent = `Thank you — you rated the session ${rating.stars} out of 5.`;
  } catch (failure) {
    button.disabled = false;
    if (failure.code === "already_rated") {
      form.hidden = true;
      thanks.hidden = false;
      thanks.textContent = failure.message;
      return;
    }
    error.hidden = false;
    error.textContent = failure.message;
  }
});
